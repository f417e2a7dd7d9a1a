import type { Redis } from 'ioredis';
import type { IdentifierHasher } from '../security/identifier-hash';
import { gatewayKey } from './keys';

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
  ) {}

  /** The sender as it may appear in logs and key names. */
  async urnHash(urn: string): Promise<string> {
    return this.hasher.hash(urn);
  }

  private optOutKey(): string {
    return gatewayKey(this.prefix, 'optout');
  }

  async optOut(urn: string): Promise<void> {
    await this.redis.sadd(this.optOutKey(), this.hasher.hash(urn));
  }

  async optIn(urn: string): Promise<void> {
    await this.redis.srem(this.optOutKey(), ...this.hasher.candidates(urn));
  }

  async isOptedOut(urn: string): Promise<boolean> {
    return (await this.redis.smismember(this.optOutKey(), ...this.hasher.candidates(urn))).includes(1);
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
    const hashes = this.hasher.candidates(urn);
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
    const found = await Promise.all(this.hasher.candidates(urn).map((h) => this.redis.smembers(this.refsKey(h))));
    return [...new Set(found.flat())];
  }

  /** Everything kept about the sender, under every configured hash key, except the opt-out, which must outlive a deletion request. */
  async forgetKeys(urn: string): Promise<number> {
    const keys: string[] = [];
    for (const hash of this.hasher.candidates(urn)) {
      keys.push(this.refsKey(hash), gatewayKey(this.prefix, 'rate', hash));
      let cursor = '0';
      do {
        const [next, found] = await this.redis.scan(cursor, 'MATCH', gatewayKey(this.prefix, 'feedback-window', hash, '*'), 'COUNT', 1000);
        cursor = next;
        keys.push(...found);
      } while (cursor !== '0');
    }
    return this.redis.del(...keys);
  }

  /** Until this version the hash key was kept in Redis, which is what let a dump be reversed: reseal deletes it. */
  async removeLegacyHashKey(): Promise<boolean> {
    return (await this.redis.del(gatewayKey(this.prefix, 'urn-hash-key'))) === 1;
  }
}
