import type { RedisConnection } from '../queues/connection';
import type { IdentifierHasher } from '../security/identifier-hash';
import { sealContext, type PayloadCodec } from '../security/payload-codec';
import type { ContactKeys } from './contact-keys';

export interface RehashReport {
  rehashed: number;
  current: number;
  unreadable: string[];
}

/**
 * Which URNs are one person (a WhatsApp sender named by both `from` and `from_user_id`), by keyed hash.
 * The links never expire and forget keeps them, like the opt-out they exist to carry over.
 */
export class IdentityLinkStore {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: ContactKeys,
    private readonly hasher: IdentifierHasher,
    private readonly codec: PayloadCodec | null,
  ) {}

  /**
   * Records the link both ways. Once Meta sends only the user id, this is how "STOP" said under the number
   * still holds. Two SADDs in one MULTI, so a crash leaves both directions or neither. With DATA_KEY the URNs
   * are sealed beside the links in the same MULTI: that is what lets an opt-out seal the URN of every identity
   * it covers and reseal re-hash the link sets. They never expire, but forget drops them (forgetSealedUrns).
   */
  async link(urn: string, others: string[]): Promise<void> {
    if (!others.length) return;
    const hash = this.hasher.hash(urn);
    const tx = this.redis.multi().sadd(this.keys.link(hash), ...others.map((o) => this.hasher.hash(o)));
    for (const other of others) tx.sadd(this.keys.link(this.hasher.hash(other)), hash);
    if (this.codec?.encrypts) {
      for (const u of [urn, ...others]) tx.hset(this.keys.linkedUrns(), this.hasher.hash(u), this.codec.sealValue(u, sealContext.optOutUrn()));
    }
    await tx.exec();
  }

  /** Every hash the sender is known by: their own (under each configured key) and those linked to them. */
  async identityHashes(urn: string): Promise<string[]> {
    const own = this.hasher.candidates(urn);
    const linked = await Promise.all(own.map((h) => this.redis.smembers(this.keys.link(h))));
    return [...new Set([...own, ...linked.flat()])];
  }

  /** The sealed URNs kept beside these linked identities (null where none is). */
  async sealedUrnsOf(hashes: string[]): Promise<Array<string | null>> {
    return hashes.length ? this.redis.hmget(this.keys.linkedUrns(), ...hashes) : [];
  }

  /** Drops the sealed URNs beside these identities; the links themselves stay (they are hashes). */
  /** How many sealed URNs went. */
  async forgetSealedUrns(hashes: string[]): Promise<number> {
    return hashes.length ? this.redis.hdel(this.keys.linkedUrns(), ...hashes) : 0;
  }

  /**
   * For reseal: every link set whose identity's URN is sealed is rebuilt under the current hash key (its
   * members mapped to their current hashes) and the URN resealed under the current DATA_KEY. One MULTI per
   * identity, so a crash leaves each one old or new and the next run finishes; the old set goes with it.
   */
  async rehashLinks(): Promise<RehashReport> {
    const out: RehashReport = { rehashed: 0, current: 0, unreadable: [] };
    if (!this.codec?.encrypts) return out;
    const entries = await this.readSealedUrns(this.codec, out);
    for (const [hash, { sealed, fresh, current }] of entries) {
      const members = await this.redis.smembers(this.keys.link(hash));
      const mapped = members.map((m) => entries.get(m)?.current ?? m);
      const stale = members.filter((m, i) => mapped[i] !== m);
      if (current === hash && fresh === sealed && !stale.length) {
        out.current++;
        continue;
      }
      const tx = this.redis.multi();
      if (mapped.length) tx.sadd(this.keys.link(current), ...mapped);
      if (current === hash && stale.length) tx.srem(this.keys.link(current), ...stale);
      tx.hset(this.keys.linkedUrns(), current, fresh);
      if (current !== hash) tx.del(this.keys.link(hash)).hdel(this.keys.linkedUrns(), hash);
      await tx.exec();
      out.rehashed++;
    }
    return out;
  }

  /** Each linked identity's sealed URN, resealed and re-hashed under the current keys; the unreadable are reported. */
  private async readSealedUrns(codec: PayloadCodec, out: RehashReport): Promise<Map<string, { sealed: string; fresh: string; current: string }>> {
    const entries = new Map<string, { sealed: string; fresh: string; current: string }>();
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(this.keys.linkedUrns(), cursor, 'COUNT', 500);
      cursor = next;
      for (let i = 0; i + 1 < flat.length; i += 2) {
        const [hash, sealed] = [flat[i]!, flat[i + 1]!];
        try {
          const urn = codec.openValue(sealed, sealContext.optOutUrn());
          entries.set(hash, { sealed, fresh: codec.resealValue(sealed, sealContext.optOutUrn()) ?? sealed, current: this.hasher.hash(urn) });
        } catch {
          out.unreadable.push(hash);
        }
      }
    } while (cursor !== '0');
    return entries;
  }
}
