import type { Redis } from 'ioredis';
import type { IdentifierHasher } from '../security/identifier-hash';
import { sealContext, type PayloadCodec } from '../security/payload-codec';
import { gatewayKey, scanKeys } from './keys';

// Moves one opt-out to the current hash, only if its sealed URN is still what was read (an opt-in meanwhile wins).
const REHASH_OPT_OUT = `
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('SADD', KEYS[1], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
if ARGV[1] ~= ARGV[3] then redis.call('HDEL', KEYS[2], ARGV[1]) end
return 1
`;

const DELETE_IF_EQUAL = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/**
 * What the gateway remembers about a sender (a URN, or a RapidPro contact UUID when the flow gave no URN),
 * keyed by a keyed hash so Redis key names and log lines never hold a phone number. The hash key is not
 * in Redis (see IdentifierHasher); lookups also try the previous keys, so a rotation forgets no opt-out.
 */
export class ContactStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly hasher: IdentifierHasher,
    /** Seals each opt-out's URN (with DATA_KEY only), so reseal can re-hash every opt-out after a key change. */
    private readonly codec: PayloadCodec | null = null,
  ) {}

  /** The sender as it may appear in logs and key names. */
  async urnHash(urn: string): Promise<string> {
    return this.hasher.hash(urn);
  }

  /** The sender's hash under each configured key, for matching a stored hash (a dead letter's senders). */
  hashesOf(urn: string): string[] {
    return this.hasher.candidates(urn);
  }

  private optOutKey(): string {
    return gatewayKey(this.prefix, 'optout');
  }

  private linkKey(hash: string): string {
    return gatewayKey(this.prefix, 'urn-link', hash);
  }

  /**
   * Records that two URNs are one person (a WhatsApp sender named by both `from` and `from_user_id`), by
   * their keyed hashes, both ways. Never expires and forget keeps it, like the opt-out it exists to carry
   * over: once Meta sends only the user id, this is how "STOP" said under the number still holds. Two SADDs
   * in one MULTI, so a crash leaves both directions or neither.
   */
  async link(urn: string, others: string[]): Promise<void> {
    if (!others.length) return;
    const hash = this.hasher.hash(urn);
    const tx = this.redis.multi().sadd(this.linkKey(hash), ...others.map((o) => this.hasher.hash(o)));
    for (const other of others) tx.sadd(this.linkKey(this.hasher.hash(other)), hash);
    if (this.codec?.encrypts) {
      for (const u of [urn, ...others]) tx.hset(this.linkedUrnsKey(), this.hasher.hash(u), this.codec.sealValue(u, sealContext.optOutUrn()));
    }
    await tx.exec();
  }

  /**
   * `gw:urn-link-urns` (hash): a linked identity's hash → its URN, sealed like an opt-out's (written with the
   * link, in its MULTI). It is what lets optOut seal the URN of every identity it opts out and reseal re-hash
   * the link sets; so, like the links, it never expires and forget keeps it. Nothing without DATA_KEY.
   */
  private linkedUrnsKey(): string {
    return gatewayKey(this.prefix, 'urn-link-urns');
  }

  /** Every hash the sender is known by: their own (under each configured key) and those linked to them. */
  async identityHashes(urn: string): Promise<string[]> {
    const own = this.hasher.candidates(urn);
    const linked = await Promise.all(own.map((h) => this.redis.smembers(this.linkKey(h))));
    return [...new Set([...own, ...linked.flat()])];
  }

  /**
   * `gw:optout-urns` (hash): opt-out hash → the URN, sealed. Written with the opt-out in one transaction,
   * deleted by opt-in; it outlives "forget", as the opt-out does. Without DATA_KEY nothing is written (the
   * URN would be in clear), and such opt-outs follow a hash-key change only while HASH_KEY_PREVIOUS keeps
   * the old key — as do opt-outs recorded before this version.
   */
  private optOutUrnsKey(): string {
    return gatewayKey(this.prefix, 'optout-urns');
  }

  /** Recorded under every identity the sender is linked to, so it holds whichever id Meta sends next. */
  async optOut(urn: string): Promise<void> {
    const hash = this.hasher.hash(urn);
    const linked = (await this.identityHashes(urn)).slice(this.hasher.candidates(urn).length);
    const tx = this.redis.multi().sadd(this.optOutKey(), hash, ...linked);
    if (this.codec?.encrypts) {
      tx.hset(this.optOutUrnsKey(), hash, this.codec.sealValue(urn, sealContext.optOutUrn()));
      // The linked identities' URNs too, so reseal can move their opt-outs to a new hash key.
      const sealed = linked.length ? await this.redis.hmget(this.linkedUrnsKey(), ...linked) : [];
      linked.forEach((h, i) => sealed[i] && tx.hset(this.optOutUrnsKey(), h, sealed[i]!));
    }
    await tx.exec();
  }

  async optIn(urn: string): Promise<void> {
    const hashes = await this.identityHashes(urn);
    await this.redis.multi().srem(this.optOutKey(), ...hashes).hdel(this.optOutUrnsKey(), ...hashes).exec();
  }

  /**
   * For reseal: every opt-out whose URN is sealed is recorded under the current hash key and its URN sealed
   * under the current DATA_KEY, so neither old key is needed to honour it afterwards.
   */
  async rehashOptOuts(): Promise<{ rehashed: number; current: number; unreadable: string[] }> {
    const out = { rehashed: 0, current: 0, unreadable: [] as string[] };
    if (!this.codec?.encrypts) return out;
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(this.optOutUrnsKey(), cursor, 'COUNT', 500);
      cursor = next;
      for (let i = 0; i + 1 < flat.length; i += 2) {
        const [hash, sealed] = [flat[i]!, flat[i + 1]!];
        let urn: string;
        let fresh: string;
        try {
          urn = this.codec.openValue(sealed, sealContext.optOutUrn());
          fresh = this.codec.resealValue(sealed, sealContext.optOutUrn()) ?? sealed;
        } catch {
          out.unreadable.push(hash);
          continue;
        }
        const current = this.hasher.hash(urn);
        if (current === hash && fresh === sealed) {
          out.current++;
          continue;
        }
        if ((await this.redis.eval(REHASH_OPT_OUT, 2, this.optOutKey(), this.optOutUrnsKey(), hash, sealed, current, fresh)) === 1) out.rehashed++;
      }
    } while (cursor !== '0');
    return out;
  }

  /**
   * For reseal: every link set whose identity's URN is sealed is rebuilt under the current hash key (its
   * members mapped to their current hashes) and the URN resealed under the current DATA_KEY. One MULTI per
   * identity, so a crash leaves each one old or new and the next run finishes; the old set goes with it.
   */
  async rehashLinks(): Promise<{ rehashed: number; current: number; unreadable: string[] }> {
    const out = { rehashed: 0, current: 0, unreadable: [] as string[] };
    if (!this.codec?.encrypts) return out;
    const entries = new Map<string, { sealed: string; fresh: string; current: string }>();
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(this.linkedUrnsKey(), cursor, 'COUNT', 500);
      cursor = next;
      for (let i = 0; i + 1 < flat.length; i += 2) {
        const [hash, sealed] = [flat[i]!, flat[i + 1]!];
        try {
          const urn = this.codec.openValue(sealed, sealContext.optOutUrn());
          entries.set(hash, { sealed, fresh: this.codec.resealValue(sealed, sealContext.optOutUrn()) ?? sealed, current: this.hasher.hash(urn) });
        } catch {
          out.unreadable.push(hash);
        }
      }
    } while (cursor !== '0');
    for (const [hash, { sealed, fresh, current }] of entries) {
      const members = await this.redis.smembers(this.linkKey(hash));
      const mapped = members.map((m) => entries.get(m)?.current ?? m);
      const stale = members.filter((m, i) => mapped[i] !== m);
      if (current === hash && fresh === sealed && !stale.length) {
        out.current++;
        continue;
      }
      const tx = this.redis.multi();
      if (mapped.length) tx.sadd(this.linkKey(current), ...mapped);
      if (current === hash && stale.length) tx.srem(this.linkKey(current), ...stale);
      tx.hset(this.linkedUrnsKey(), current, fresh);
      if (current !== hash) tx.del(this.linkKey(hash)).hdel(this.linkedUrnsKey(), hash);
      await tx.exec();
      out.rehashed++;
    }
    return out;
  }

  async isOptedOut(urn: string): Promise<boolean> {
    return (await this.redis.smismember(this.optOutKey(), ...(await this.identityHashes(urn)))).includes(1);
  }

  /**
   * After a hash-key rotation (run by reseal for every sender a reference link still names): an opt-out
   * found under a previous key is recorded under the current one. True when it moved one.
   */
  async migrateOptOut(urn: string): Promise<boolean> {
    const [current, ...previous] = this.hasher.candidates(urn);
    if (!previous.length || !(await this.redis.smismember(this.optOutKey(), ...previous)).includes(1)) return false;
    return (await this.redis.sadd(this.optOutKey(), current!)) === 1;
  }

  /**
   * Counts a new message from the sender in a fixed window and reports the opt-out in the same round trip.
   * `count` is how many messages the sender sent in the current window, this one included; `sender` is the
   * keyed hash, for log lines.
   */
  async recordInbound(urn: string, windowSeconds: number, countThisOne: boolean): Promise<{ count: number; optedOut: boolean; sender: string }> {
    const hashes = await this.identityHashes(urn);
    const hash = hashes[0]!;
    const rateKey = gatewayKey(this.prefix, 'rate', hash);
    const tx = this.redis.multi();
    if (countThisOne) tx.incr(rateKey).expire(rateKey, windowSeconds, 'NX');
    else tx.get(rateKey);
    tx.smismember(this.optOutKey(), ...hashes);
    const results = (await tx.exec()) ?? [];
    const count = Number(results[0]?.[1] ?? 0);
    const optedOut = ((results.at(-1)?.[1] as number[] | undefined) ?? []).includes(1);
    return { count, optedOut, sender: hash };
  }

  private refsKey(hash: string): string {
    return gatewayKey(this.prefix, 'contact-refs', hash);
  }

  /** Groups a sender's feedback of one category within the merge window (written by the intake producer). */
  feedbackWindowKey(sender: string, category: string): string {
    return gatewayKey(this.prefix, 'feedback-window', this.hasher.hash(sender), category);
  }

  /** Which references a sender has, so "forget this person" can find everything without reading content. */
  async indexReference(urn: string, reference: string, retentionDays: number): Promise<void> {
    const key = this.refsKey(this.hasher.hash(urn));
    await this.redis.multi().sadd(key, reference).expire(key, retentionDays * 86400).exec();
  }

  /**
   * After a hash-key rotation: indexes the reference under the current hash too, expiring no earlier than
   * the link it points to. Nothing to do (false) when no previous key is configured.
   */
  async reindex(urn: string, reference: string, ttlMs: number): Promise<boolean> {
    const [current, ...previous] = this.hasher.candidates(urn);
    if (!previous.length) return false;
    const key = this.refsKey(current!);
    const results = (await this.redis.multi().sadd(key, reference).pexpire(key, ttlMs, 'NX').pexpire(key, ttlMs, 'GT').exec()) ?? [];
    return results[0]?.[1] === 1;
  }

  async referencesOf(urn: string): Promise<string[]> {
    return this.referencesOfHashes(this.hasher.candidates(urn));
  }

  /** The references indexed under any of these sender hashes (a person's linked identities included). */
  async referencesOfHashes(hashes: string[]): Promise<string[]> {
    const found = await Promise.all(hashes.map((h) => this.redis.smembers(this.refsKey(h))));
    return [...new Set(found.flat())];
  }

  /** Everything kept about the sender, under every configured hash key, except the opt-out, which must outlive a deletion request. */
  async forgetKeys(urn: string): Promise<number> {
    return this.forgetKeysOfHashes(this.hasher.candidates(urn));
  }

  /**
   * forgetKeys for identities known only by hash (the other side of a link). The links themselves stay (they
   * are hashes, and carry an opt-out over); the sealed URNs beside them go: an erased person's number is not kept
   * for a rotation that might need it. An opt-out keeps its own sealed URN, as it keeps the opt-out.
   */
  async forgetKeysOfHashes(hashes: string[]): Promise<number> {
    if (hashes.length) await this.redis.hdel(this.linkedUrnsKey(), ...hashes);
    const keys: string[] = [];
    for (const hash of hashes) {
      keys.push(this.refsKey(hash), gatewayKey(this.prefix, 'rate', hash));
      for await (const found of scanKeys(this.redis, gatewayKey(this.prefix, 'feedback-window', hash, '*'), { count: 1000 })) {
        keys.push(...found);
      }
    }
    return this.redis.del(...keys);
  }

  /**
   * Before #13 the hash key was kept in Redis (`gw:urn-hash-key`, 32 bytes as hex), which is what let a dump
   * be reversed. While it is there and not configured (HASH_KEY_PREVIOUS), every opt-out hashed with it
   * would be missed: the gateway refuses to start.
   */
  async legacyHashKey(): Promise<'absent' | 'configured' | 'unconfigured'> {
    const stored = await this.redis.get(gatewayKey(this.prefix, 'urn-hash-key'));
    if (stored === null) return 'absent';
    return this.hasher.knows(Buffer.from(stored, 'hex')) ? 'configured' : 'unconfigured';
  }

  /** Reseal deletes the legacy key, but only when it is a configured one: the hashes it made are still looked up. */
  async removeLegacyHashKey(): Promise<boolean> {
    const key = gatewayKey(this.prefix, 'urn-hash-key');
    const stored = await this.redis.get(key);
    if (stored === null || !this.hasher.knows(Buffer.from(stored, 'hex'))) return false;
    return (await this.redis.eval(DELETE_IF_EQUAL, 1, key, stored)) === 1;
  }
}
