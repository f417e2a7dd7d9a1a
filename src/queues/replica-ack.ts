import { Cluster, type Redis } from 'ioredis';
import { gatewayKey } from '../store/keys';
import type { RedisConnection } from './connection';
import { QueueUnavailableError } from './deadline';
import { WaitBarrier } from './wait-barrier';

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
 * How many times each connection has dropped or (re)connected. WAIT vouches only for the writes its own connection
 * made on the server it reaches: ioredis resends an unanswered WAIT after a reconnect, and a fresh connection (to
 * the new primary after a failover) answers it at once for writes it never saw. An ack is kept only when the
 * count did not move between the first write and the WAIT's answer.
 */
const generations = new WeakMap<Redis, { count: number }>();
function generationOf(node: Redis): { count: number } {
  let g = generations.get(node);
  if (!g) {
    const counter = { count: 0 };
    const bump = () => void counter.count++;
    node.on('close', bump);
    node.on('ready', bump);
    generations.set(node, counter);
    g = counter;
  }
  return g;
}

/**
 * Waits until enough replicas hold this connection's writes so far; throws (a 503) when too few do in time. `until`
 * (ms since the epoch) bounds this wait more tightly than the request's deadline, to keep time for a later one.
 */
export type ReplicaWait = (until?: number) => Promise<void>;

/** REDIS_MIN_REPLICAS_ACK for the intake: `begin` before an acceptance's first write, its wait after each write to vouch for. */
export interface ReplicaAck {
  begin(deadlineAt: number): Promise<ReplicaWait>;
}

/**
 * Redis `WAIT replicas timeout` on the connection that stored the acceptance, bounded by the request's deadline and
 * shared by the requests ready at the same time (wait-barrier.ts). Each WAIT follows a write of its own on that
 * connection (a marker key), so it covers everything the server held when the marker was written: the duplicate
 * path, which reads the first delivery's verdict and writes nothing, is covered as well as a fresh acceptance.
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
  const marker = gatewayKey(prefix, 'replica-ack');
  const barriers = new WeakMap<Redis, WaitBarrier>();
  const barrierOf = (node: Redis) => {
    let b = barriers.get(node);
    if (!b) barriers.set(node, (b = new WaitBarrier(node, marker, replicas, timeoutMs)));
    return b;
  };
  return {
    begin: async (deadlineAt) => {
      const node = await writerOf(redis, slotOf);
      const barrier = barrierOf(node);
      const generation = generationOf(node);
      const since = generation.count;
      // Fewer replicas online than required: 503 before anything is written, without holding the connection.
      const online = await barrier.online();
      if (online < replicas) throw new QueueUnavailableError(`${online} of ${replicas} replicas online`);
      const unchanged = async () => (await writerOf(redis, slotOf)) === node && generation.count === since;
      return async (until = deadlineAt) => {
        if (!(await unchanged())) throw new QueueUnavailableError('the Redis connection changed since the acceptance was written');
        const acknowledged = await barrier.acknowledged(Math.min(until, deadlineAt));
        if (!(await unchanged())) throw new QueueUnavailableError('the Redis connection changed before its WAIT was answered');
        if (acknowledged < replicas) throw new QueueUnavailableError(`${acknowledged} of ${replicas} replicas acknowledged in time`);
      };
    },
  };
}
