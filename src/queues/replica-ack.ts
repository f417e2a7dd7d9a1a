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

/**
 * After an acceptance is stored, and before its 2xx: Redis `WAIT replicas timeout` on the connection that stored it.
 * Fewer replicas within the timeout throws (503): the job is on the primary and may still run; the sender's retry
 * is a duplicate answered with the same reference. Undefined when no replica is required.
 */
export function replicaAcknowledgement(redis: RedisConnection, prefix: string, replicas: number, timeoutMs: number): (() => Promise<void>) | undefined {
  if (replicas === 0) return undefined;
  let slot: Promise<number> | null = null;
  // A key's slot never changes; asked once, and again after a failure.
  const slotOf = () =>
    (slot ??= Promise.resolve((redis as Cluster).cluster('KEYSLOT', gatewayKey(prefix, 'accepted')) as Promise<number>).catch((err: unknown) => {
      slot = null;
      throw err;
    }));
  return async () => {
    const acknowledged = await (await writerOf(redis, slotOf)).wait(replicas, timeoutMs);
    if (acknowledged < replicas) throw new QueueUnavailableError(`${acknowledged} of ${replicas} replicas acknowledged within ${timeoutMs} ms`);
  };
}
