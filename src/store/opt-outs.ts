import type { RedisConnection } from '../queues/connection';
import type { IdentifierHasher } from '../security/identifier-hash';
import { sealContext, type PayloadCodec } from '../security/payload-codec';
import type { ContactKeys } from './contact-keys';
import type { IdentityLinkStore, RehashReport } from './identity-links';

// Moves one opt-out to the current hash, only if its sealed URN is still what was read (an opt-in meanwhile wins).
const REHASH_OPT_OUT = `
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('SADD', KEYS[1], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
if ARGV[1] ~= ARGV[3] then redis.call('HDEL', KEYS[2], ARGV[1]) end
return 1
`;

/**
 * Who said STOP, by keyed hash, under every identity they are linked to. Beside each opt-out, with DATA_KEY,
 * its URN sealed (`gw:optout-urns`), written in the same transaction and deleted by opt-in; it outlives
 * "forget", as the opt-out does, so reseal can re-hash every opt-out after a key change. Without DATA_KEY
 * nothing is written (the URN would be in clear), and such opt-outs follow a hash-key change only while
 * HASH_KEY_PREVIOUS keeps the old key — as do opt-outs recorded before that table existed.
 */
export class OptOutStore {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: ContactKeys,
    private readonly hasher: IdentifierHasher,
    private readonly codec: PayloadCodec | null,
    private readonly links: IdentityLinkStore,
  ) {}

  /** Recorded under every identity the sender is linked to, so it holds whichever id Meta sends next. */
  async optOut(urn: string): Promise<void> {
    const hash = this.hasher.hash(urn);
    const linked = (await this.links.identityHashes(urn)).slice(this.hasher.candidates(urn).length);
    const tx = this.redis.multi().sadd(this.keys.optOut(), hash, ...linked);
    if (this.codec?.encrypts) {
      tx.hset(this.keys.optOutUrns(), hash, this.codec.sealValue(urn, sealContext.optOutUrn()));
      // The linked identities' URNs too, so reseal can move their opt-outs to a new hash key.
      const sealed = await this.links.sealedUrnsOf(linked);
      linked.forEach((h, i) => sealed[i] && tx.hset(this.keys.optOutUrns(), h, sealed[i]!));
    }
    await tx.exec();
  }

  async optIn(urn: string): Promise<void> {
    const hashes = await this.links.identityHashes(urn);
    await this.redis.multi().srem(this.keys.optOut(), ...hashes).hdel(this.keys.optOutUrns(), ...hashes).exec();
  }

  async isOptedOut(urn: string): Promise<boolean> {
    return (await this.redis.smismember(this.keys.optOut(), ...(await this.links.identityHashes(urn)))).includes(1);
  }

  /**
   * After a hash-key rotation (run by reseal for every sender a reference link still names): an opt-out
   * found under a previous key is recorded under the current one. True when it moved one.
   */
  async migrateOptOut(urn: string): Promise<boolean> {
    const [current, ...previous] = this.hasher.candidates(urn);
    if (!previous.length || !(await this.redis.smismember(this.keys.optOut(), ...previous)).includes(1)) return false;
    return (await this.redis.sadd(this.keys.optOut(), current!)) === 1;
  }

  /**
   * For reseal: every opt-out whose URN is sealed is recorded under the current hash key and its URN sealed
   * under the current DATA_KEY, so neither old key is needed to honour it afterwards.
   */
  async rehashOptOuts(): Promise<RehashReport> {
    const out: RehashReport = { rehashed: 0, current: 0, unreadable: [] };
    if (!this.codec?.encrypts) return out;
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(this.keys.optOutUrns(), cursor, 'COUNT', 500);
      cursor = next;
      for (let i = 0; i + 1 < flat.length; i += 2) await this.rehashOne(this.codec, flat[i]!, flat[i + 1]!, out);
    } while (cursor !== '0');
    return out;
  }

  private async rehashOne(codec: PayloadCodec, hash: string, sealed: string, out: RehashReport): Promise<void> {
    let urn: string;
    let fresh: string;
    try {
      urn = codec.openValue(sealed, sealContext.optOutUrn());
      fresh = codec.resealValue(sealed, sealContext.optOutUrn()) ?? sealed;
    } catch {
      out.unreadable.push(hash);
      return;
    }
    const current = this.hasher.hash(urn);
    if (current === hash && fresh === sealed) {
      out.current++;
      return;
    }
    if ((await this.redis.eval(REHASH_OPT_OUT, 2, this.keys.optOut(), this.keys.optOutUrns(), hash, sealed, current, fresh)) === 1) out.rehashed++;
  }
}
