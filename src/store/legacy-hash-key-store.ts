import type { RedisConnection } from '../queues/connection';
import type { IdentifierHasher } from '../security/identifier-hash';
import type { ContactKeys } from './contact-keys';

const DELETE_IF_EQUAL = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/**
 * Before #13 the hash key was kept in Redis (`gw:urn-hash-key`, 32 bytes as hex), which is what let a dump
 * be reversed. While it is there and not configured (HASH_KEY_PREVIOUS), every opt-out hashed with it
 * would be missed: the gateway refuses to start.
 */
export class LegacyHashKeyStore {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: ContactKeys,
    private readonly hasher: IdentifierHasher,
  ) {}

  async state(): Promise<'absent' | 'configured' | 'unconfigured'> {
    const stored = await this.redis.get(this.keys.legacyHashKey());
    if (stored === null) return 'absent';
    return this.hasher.knows(Buffer.from(stored, 'hex')) ? 'configured' : 'unconfigured';
  }

  /** Reseal deletes the legacy key, but only when it is a configured one: the hashes it made are still looked up. */
  async remove(): Promise<boolean> {
    const key = this.keys.legacyHashKey();
    const stored = await this.redis.get(key);
    if (stored === null || !this.hasher.knows(Buffer.from(stored, 'hex'))) return false;
    return (await this.redis.eval(DELETE_IF_EQUAL, 1, key, stored)) === 1;
  }
}
