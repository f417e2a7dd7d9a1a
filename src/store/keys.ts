import type { RedisConnection } from '../queues/connection';

/** Every key the gateway owns (outside BullMQ's) lives under `<QUEUE_PREFIX>:gw:`, so a hash-tag prefix keeps them in one slot. */
export function gatewayKey(prefix: string, ...parts: string[]): string {
  return [prefix, 'gw', ...parts].join(':');
}

/** The keys matching `pattern`, batch by batch (SCAN: never blocks Redis, may repeat a key a rewrite moved). */
export async function* scanKeys(redis: RedisConnection, pattern: string, opts: { count?: number; type?: 'hash' } = {}): AsyncGenerator<string[]> {
  let cursor = '0';
  do {
    const [next, keys] = opts.type
      ? await redis.scan(cursor, 'MATCH', pattern, 'COUNT', opts.count ?? 500, 'TYPE', opts.type)
      : await redis.scan(cursor, 'MATCH', pattern, 'COUNT', opts.count ?? 500);
    cursor = next;
    yield keys;
  } while (cursor !== '0');
}

/** Deletes every key under `<prefix>:` (a test's, the demo's or the bench's private prefix), in batches. */
export async function deleteByPrefix(redis: RedisConnection, prefix: string): Promise<void> {
  for await (const keys of scanKeys(redis, `${prefix}:*`, { count: 1000 })) if (keys.length) await redis.del(...keys);
}

const REPLACE_FIELD = `if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) return 1 end return 0`;

/**
 * Sets a hash field only if it still holds `expected`: a rewrite (reseal) never recreates an expired key
 * without its TTL, nor overwrites a value written meanwhile. True when it replaced.
 */
export async function replaceFieldIfUnchanged(redis: RedisConnection, key: string, field: string, expected: string, value: string): Promise<boolean> {
  return (await redis.eval(REPLACE_FIELD, 1, key, field, expected, value)) === 1;
}
