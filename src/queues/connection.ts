import { Redis, type Cluster, type RedisOptions } from 'ioredis';

/** What the gateway's stores, queues and views are given: one Redis (single or Sentinel-managed) or a Redis Cluster. */
export type RedisConnection = Redis | Cluster;

// Protocol constants, not tunables: they bound how fast a lost Redis is noticed and retried, and an
// operator has no reason to move them (REDIS_URL and the callers' own deadlines are the settings).
/** A producer's connect gives up this soon, so the HTTP path answers 503 instead of hanging. */
const PRODUCER_CONNECT_TIMEOUT_MS = 2000;
/** Reconnect backoff: 200 ms more per try, never more than 2 s apart. */
const RECONNECT_STEP_MS = 200;
const RECONNECT_MAX_MS = 2000;
/** How often `waitForRedis` asks again. */
const WAIT_POLL_MS = 250;

/**
 * - producer: used on the HTTP path. No offline queue, so a command fails at once while Redis is away and
 *   the route answers 503 instead of holding RapidPro's connection open.
 * - worker: blocking commands must wait as long as it takes (BullMQ requires maxRetriesPerRequest null).
 */
export function createRedis(url: string, role: 'producer' | 'worker', extra: RedisOptions = {}): Redis {
  const base: RedisOptions =
    role === 'producer'
      ? { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: PRODUCER_CONNECT_TIMEOUT_MS }
      : { maxRetriesPerRequest: null };
  return new Redis(url, { ...base, retryStrategy: (times) => Math.min(times * RECONNECT_STEP_MS, RECONNECT_MAX_MS), lazyConnect: true, ...extra });
}

/** Resolves once Redis answers; the gateway does not start half-connected. */
export async function waitForRedis(redis: Redis, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  if (redis.status === 'wait') await redis.connect().catch(() => undefined);
  for (;;) {
    try {
      if (redis.status === 'ready' && (await redis.ping()) === 'PONG') return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error('Redis did not answer at REDIS_URL');
    await new Promise((r) => setTimeout(r, WAIT_POLL_MS));
  }
}
