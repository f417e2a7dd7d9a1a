import type { Redis } from 'ioredis';
import { mastersOf, type RedisConnection } from '../queues/connection';

/** Every key the gateway owns (outside BullMQ's) lives under `<QUEUE_PREFIX>:gw:`, so a hash-tag prefix keeps them in one slot. */
export function gatewayKey(prefix: string, ...parts: string[]): string {
  return [prefix, 'gw', ...parts].join(':');
}

/**
 * A key kept once per Primero record type. A case's is the key as it was before incidents had their own: a running
 * deployment keeps what it stored there across the upgrade.
 */
export function recordTypeKey(prefix: string, type: 'case' | 'incident', ...parts: string[]): string {
  return type === 'case' ? gatewayKey(prefix, ...parts) : gatewayKey(prefix, ...parts, type);
}

/**
 * The keys matching `pattern`, batch by batch (SCAN: never blocks Redis, may repeat a key a rewrite moved). In a
 * cluster SCAN sees only the node it is sent to, so every master is scanned in turn (each batch names its node).
 */
export async function* scanKeys(redis: RedisConnection, pattern: string, opts: { count?: number; type?: 'hash' } = {}): AsyncGenerator<string[]> {
  for await (const { keys } of scanMasters(redis, pattern, opts)) yield keys;
}

async function* scanMasters(redis: RedisConnection, pattern: string, opts: { count?: number; type?: 'hash' }): AsyncGenerator<{ node: Redis; keys: string[] }> {
  for (const node of mastersOf(redis)) {
    let cursor = '0';
    do {
      const [next, keys] = opts.type
        ? await node.scan(cursor, 'MATCH', pattern, 'COUNT', opts.count ?? 500, 'TYPE', opts.type)
        : await node.scan(cursor, 'MATCH', pattern, 'COUNT', opts.count ?? 500);
      cursor = next;
      yield { node, keys };
    } while (cursor !== '0');
  }
}

/**
 * Deletes every key under `<prefix>:` (a test's, the demo's or the bench's private prefix), in batches. One DEL per
 * key on the node that holds it: a prefix without a hash tag spreads over slots, and a multi-key DEL must not.
 */
export async function deleteByPrefix(redis: RedisConnection, prefix: string): Promise<void> {
  for await (const { node, keys } of scanMasters(redis, `${prefix}:*`, { count: 1000 })) {
    if (!keys.length) continue;
    const pipeline = node.pipeline();
    for (const key of keys) pipeline.del(key);
    await pipeline.exec();
  }
}

const REPLACE_FIELD = `if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) return 1 end return 0`;

/**
 * Sets a hash field only if it still holds `expected`: a rewrite (reseal) never recreates an expired key
 * without its TTL, nor overwrites a value written meanwhile. True when it replaced.
 */
export async function replaceFieldIfUnchanged(redis: RedisConnection, key: string, field: string, expected: string, value: string): Promise<boolean> {
  return (await redis.eval(REPLACE_FIELD, 1, key, field, expected, value)) === 1;
}
