import { Cluster, type Redis } from 'ioredis';
import { gatewayKey } from '../store/keys';
import type { RedisConnection } from './connection';
import { QueueUnavailableError } from './deadline';

/**
 * The connection that wrote the acceptance's keys: WAIT counts the replicas that have this connection's writes,
 * so it must go where they went. In a cluster that is the master of the prefix's slot (a hash tag: one slot for
 * the ledger and the intake queue alike), looked up in the client's own slot table at each call, so a resharding
 * or a failover is followed.
 */
async function writerOf(redis: RedisConnection, slotOf: () => Promise<number>): Promise<Redis> {
  if (!(redis instanceof Cluster)) return redis;
  const owner = redis.slots[await slotOf()]?.[0];
  const node = redis.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === owner);
  if (!node) throw new QueueUnavailableError('no master is known for the gateway\'s slot');
  return node;
}

/** Waits until enough replicas hold this connection's writes so far; throws (a 503) when too few do in time. */
export type ReplicaWait = () => Promise<void>;

/** REDIS_MIN_REPLICAS_ACK for the intake: `begin` before an acceptance's first write, its wait after each write to vouch for. */
export interface ReplicaAck {
  begin(deadlineAt: number): Promise<ReplicaWait>;
}

/**
 * Redis `WAIT replicas timeout` on the connection that stored the acceptance, bounded by the request's deadline.
 * Undefined when no replica is required.
 */
export function replicaAcknowledgement(redis: RedisConnection, prefix: string, replicas: number, timeoutMs: number): ReplicaAck | undefined {
  if (replicas === 0) return undefined;
  let slot: Promise<number> | null = null;
  // A key's slot never changes; asked once, and again after a failure.
  const slotOf = () =>
    (slot ??= Promise.resolve((redis as Cluster).cluster('KEYSLOT', gatewayKey(prefix, 'accepted')) as Promise<number>).catch((err: unknown) => {
      slot = null;
      throw err;
    }));
  return {
    begin: async (deadlineAt) => async () => {
      const within = Math.max(1, Math.min(timeoutMs, deadlineAt - Date.now()));
      const acknowledged = await (await writerOf(redis, slotOf)).wait(replicas, within);
      if (acknowledged < replicas) throw new QueueUnavailableError(`${acknowledged} of ${replicas} replicas acknowledged within ${within} ms`);
    },
  };
}
