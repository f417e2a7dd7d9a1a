import { randomUUID } from 'node:crypto';
import type { RedisConnection } from '../queues/connection';
import { gatewayKey } from './keys';
import { LuaScript } from './lua-script';

const RELEASE = new LuaScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`);

/**
 * One writer at a time per Primero record (`gw:record-lock:<recordId>`): a merge reads the record's text
 * and writes it back, so two at once would lose one. Deleted by its holder (compare-and-delete on a token,
 * so a holder that outlived its lock cannot free another's), or by its TTL when the holder died.
 */
export class RecordLocks {
  constructor(
    private readonly redis: RedisConnection,
    private readonly prefix: string,
  ) {}

  private key(recordId: string): string {
    return gatewayKey(this.prefix, 'record-lock', recordId);
  }

  /** The token to release with, or null when another writer holds the record. */
  async acquire(recordId: string, ttlMs: number): Promise<string | null> {
    const token = randomUUID();
    return (await this.redis.set(this.key(recordId), token, 'PX', ttlMs, 'NX')) === 'OK' ? token : null;
  }

  async release(recordId: string, token: string): Promise<void> {
    await RELEASE.run(this.redis, [this.key(recordId)], [token]);
  }
}
