import { createHmac, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { gatewayKey } from './keys';

/**
 * What the gateway remembers about a sender, keyed by a keyed hash of the URN so Redis key names and
 * log lines never hold a phone number. The key is random per deployment and kept in Redis: it must be
 * stable, or opt-outs would be forgotten.
 */
export class ContactStore {
  private hashKey: Buffer | null = null;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private async key(): Promise<Buffer> {
    if (this.hashKey) return this.hashKey;
    const name = gatewayKey(this.prefix, 'urn-hash-key');
    await this.redis.set(name, randomBytes(32).toString('hex'), 'NX');
    const stored = await this.redis.get(name);
    if (!stored) throw new Error('URN hash key missing from Redis');
    this.hashKey = Buffer.from(stored, 'hex');
    return this.hashKey;
  }

  /** The sender as it may appear in logs and key names. */
  async urnHash(urn: string): Promise<string> {
    return createHmac('sha256', await this.key()).update(urn).digest('hex').slice(0, 24);
  }

  private optOutKey(): string {
    return gatewayKey(this.prefix, 'optout');
  }

  async optOut(urn: string): Promise<void> {
    await this.redis.sadd(this.optOutKey(), await this.urnHash(urn));
  }

  async optIn(urn: string): Promise<void> {
    await this.redis.srem(this.optOutKey(), await this.urnHash(urn));
  }

  async isOptedOut(urn: string): Promise<boolean> {
    return (await this.redis.sismember(this.optOutKey(), await this.urnHash(urn))) === 1;
  }

  /**
   * Counts a new message from the sender in a fixed window and reports the opt-out in the same round trip.
   * `count` is how many messages the sender sent in the current window, this one included; `sender` is the
   * keyed hash, for log lines.
   */
  async recordInbound(urn: string, windowSeconds: number, countThisOne: boolean): Promise<{ count: number; optedOut: boolean; sender: string }> {
    const hash = await this.urnHash(urn);
    const rateKey = gatewayKey(this.prefix, 'rate', hash);
    const tx = this.redis.multi();
    if (countThisOne) tx.incr(rateKey).expire(rateKey, windowSeconds, 'NX');
    else tx.get(rateKey);
    tx.sismember(this.optOutKey(), hash);
    const results = (await tx.exec()) ?? [];
    const count = Number(results[0]?.[1] ?? 0);
    const optedOut = results.at(-1)?.[1] === 1;
    return { count, optedOut, sender: hash };
  }

  private refsKey(hash: string): string {
    return gatewayKey(this.prefix, 'contact-refs', hash);
  }

  /** Which references a sender has, so "forget this person" can find everything without reading content. */
  async indexReference(urn: string, reference: string, retentionDays: number): Promise<void> {
    const key = this.refsKey(await this.urnHash(urn));
    await this.redis.multi().sadd(key, reference).expire(key, retentionDays * 86400).exec();
  }

  async referencesOf(urn: string): Promise<string[]> {
    return this.redis.smembers(this.refsKey(await this.urnHash(urn)));
  }

  /** Everything kept about the sender except the opt-out, which must outlive a deletion request. */
  async forgetKeys(urn: string): Promise<number> {
    const hash = await this.urnHash(urn);
    const keys = [this.refsKey(hash), gatewayKey(this.prefix, 'rate', hash)];
    let cursor = '0';
    do {
      const [next, found] = await this.redis.scan(cursor, 'MATCH', gatewayKey(this.prefix, 'feedback-window', hash, '*'), 'COUNT', 1000);
      cursor = next;
      keys.push(...found);
    } while (cursor !== '0');
    return this.redis.del(...keys);
  }
}
