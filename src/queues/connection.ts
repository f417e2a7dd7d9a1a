import { Redis, type RedisOptions } from 'ioredis';

/**
 * - producer: used on the HTTP path. No offline queue, so a command fails at once while Redis is away and
 *   the route answers 503 instead of holding RapidPro's connection open.
 * - worker: blocking commands must wait as long as it takes (BullMQ requires maxRetriesPerRequest null).
 */
export function createRedis(url: string, role: 'producer' | 'worker', extra: RedisOptions = {}): Redis {
  const base: RedisOptions =
    role === 'producer'
      ? { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000 }
      : { maxRetriesPerRequest: null };
  return new Redis(url, { ...base, retryStrategy: (times) => Math.min(times * 200, 2000), lazyConnect: true, ...extra });
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
    await new Promise((r) => setTimeout(r, 250));
  }
}
