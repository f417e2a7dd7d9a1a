import type { RedisConnection } from '../queues/connection';
import type { IdentifierHasher } from '../security/identifier-hash';
import type { ContactKeys } from './contact-keys';
import { LuaScript } from './lua-script';

// Each sender key gets the reference and the retention together: no index entry without an end.
const INDEX = new LuaScript(`
for i = 1, #KEYS do
  redis.call('SADD', KEYS[i], ARGV[1])
  redis.call('EXPIRE', KEYS[i], ARGV[2])
end
`);

/** Which references a sender has (`gw:contact-refs:<hash>`), so "forget this person" can find everything without reading content. */
export class ContactReferenceStore {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: ContactKeys,
    private readonly hasher: IdentifierHasher,
  ) {}

  /** The reference under each of the sender's identities (URN, RapidPro contact UUID), in one round trip. */
  async indexReference(identities: string[], reference: string, retentionDays: number): Promise<void> {
    if (!identities.length) return;
    await INDEX.run(this.redis, identities.map((who) => this.keys.refs(this.hasher.hash(who))), [reference, retentionDays * 86400]);
  }

  /**
   * After a hash-key rotation: indexes the reference under the current hash too, expiring no earlier than
   * the link it points to. Nothing to do (false) when no previous key is configured.
   */
  async reindex(urn: string, reference: string, ttlMs: number): Promise<boolean> {
    const [current, ...previous] = this.hasher.candidates(urn);
    if (!previous.length) return false;
    const key = this.keys.refs(current!);
    const results = (await this.redis.multi().sadd(key, reference).pexpire(key, ttlMs, 'NX').pexpire(key, ttlMs, 'GT').exec()) ?? [];
    return results[0]?.[1] === 1;
  }

  async referencesOf(urn: string): Promise<string[]> {
    return this.referencesOfHashes(this.hasher.candidates(urn));
  }

  /** The references indexed under any of these sender hashes (a person's linked identities included). */
  async referencesOfHashes(hashes: string[]): Promise<string[]> {
    const found = await Promise.all(hashes.map((h) => this.redis.smembers(this.keys.refs(h))));
    return [...new Set(found.flat())];
  }
}
