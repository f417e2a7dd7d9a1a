import type { RedisConnection } from '../queues/connection';
import type { ContactKeys } from './contact-keys';
import type { IdentityLinkStore } from './identity-links';

/** How many messages a sender sent in the current fixed window (`gw:rate:<hash>`), read with their opt-out. */
export class InboundRateStore {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: ContactKeys,
    private readonly links: IdentityLinkStore,
  ) {}

  /**
   * Counts a new message from the sender in a fixed window and reports the opt-out in the same round trip.
   * `count` is how many messages the sender sent in the current window, this one included; `sender` is the
   * keyed hash, for log lines.
   */
  async recordInbound(urn: string, windowSeconds: number, countThisOne: boolean): Promise<{ count: number; optedOut: boolean; sender: string }> {
    const hashes = await this.links.identityHashes(urn);
    const hash = hashes[0]!;
    const rateKey = this.keys.rate(hash);
    const tx = this.redis.multi();
    if (countThisOne) tx.incr(rateKey).expire(rateKey, windowSeconds, 'NX');
    else tx.get(rateKey);
    tx.smismember(this.keys.optOut(), ...hashes);
    const results = (await tx.exec()) ?? [];
    const count = Number(results[0]?.[1] ?? 0);
    const optedOut = ((results.at(-1)?.[1] as number[] | undefined) ?? []).includes(1);
    return { count, optedOut, sender: hash };
  }
}
