import type { Redis } from 'ioredis';

/** Every key the gateway owns (outside BullMQ's) lives under `<QUEUE_PREFIX>:gw:`, so a hash-tag prefix keeps them in one slot. */
export function gatewayKey(prefix: string, ...parts: string[]): string {
  return [prefix, 'gw', ...parts].join(':');
}

/** Deletes every key under `<prefix>:` (a test's, the demo's or the bench's private prefix), in batches. */
export async function deleteByPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
}
