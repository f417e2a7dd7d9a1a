import type { RedisConnection } from '../queues/connection';
import type { IdentifierHasher } from '../security/identifier-hash';
import type { PayloadCodec } from '../security/payload-codec';
import { ContactReferenceStore } from './contact-references';
import { contactKeys, type ContactKeys } from './contact-keys';
import { FeedbackWindowStore } from './feedback-windows';
import { IdentityLinkStore, type RehashReport } from './identity-links';
import { InboundRateStore } from './inbound-rate';
import { LegacyHashKeyStore } from './legacy-hash-key-store';
import { OptOutStore } from './opt-outs';

/**
 * What the gateway remembers about a sender (a URN, or a RapidPro contact UUID when the flow gave no URN),
 * keyed by a keyed hash so Redis key names and log lines never hold a phone number. The hash key is not
 * in Redis (see IdentifierHasher); lookups also try the previous keys, so a rotation forgets no opt-out.
 * One entry point over the stores that each keep one thing (opt-outs, identity links, rate counters,
 * references, feedback windows, the legacy hash key), and the one place that forgets a sender.
 */
export class ContactStore {
  readonly optOuts: OptOutStore;
  readonly links: IdentityLinkStore;
  readonly rates: InboundRateStore;
  readonly references: ContactReferenceStore;
  readonly feedbackWindows: FeedbackWindowStore;
  readonly legacyKey: LegacyHashKeyStore;
  private readonly keys: ContactKeys;

  constructor(
    private readonly redis: RedisConnection,
    prefix: string,
    private readonly hasher: IdentifierHasher,
    /** Seals each opt-out's URN (with DATA_KEY only), so reseal can re-hash every opt-out after a key change. */
    codec: PayloadCodec | null = null,
  ) {
    this.keys = contactKeys(prefix);
    this.links = new IdentityLinkStore(redis, this.keys, hasher, codec);
    this.optOuts = new OptOutStore(redis, this.keys, hasher, codec, this.links);
    this.rates = new InboundRateStore(redis, this.keys, this.links);
    this.references = new ContactReferenceStore(redis, this.keys, hasher);
    this.feedbackWindows = new FeedbackWindowStore(redis, this.keys, hasher);
    this.legacyKey = new LegacyHashKeyStore(redis, this.keys, hasher);
  }

  /** The sender as it may appear in logs and key names. */
  async urnHash(urn: string): Promise<string> {
    return this.hasher.hash(urn);
  }

  /** The sender's hash under each configured key, for matching a stored hash (a dead letter's senders). */
  hashesOf(urn: string): string[] {
    return this.hasher.candidates(urn);
  }

  link(urn: string, others: string[]): Promise<void> {
    return this.links.link(urn, others);
  }

  identityHashes(urn: string): Promise<string[]> {
    return this.links.identityHashes(urn);
  }

  rehashLinks(): Promise<RehashReport> {
    return this.links.rehashLinks();
  }

  optOut(urn: string): Promise<void> {
    return this.optOuts.optOut(urn);
  }

  optIn(urn: string): Promise<void> {
    return this.optOuts.optIn(urn);
  }

  isOptedOut(urn: string): Promise<boolean> {
    return this.optOuts.isOptedOut(urn);
  }

  migrateOptOut(urn: string): Promise<boolean> {
    return this.optOuts.migrateOptOut(urn);
  }

  rehashOptOuts(): Promise<RehashReport> {
    return this.optOuts.rehashOptOuts();
  }

  recordInbound(urn: string, windowSeconds: number, countThisOne: boolean): Promise<{ count: number; optedOut: boolean; sender: string }> {
    return this.rates.recordInbound(urn, windowSeconds, countThisOne);
  }

  /** The key grouping a sender's feedback of one category within the merge window (the acceptance ledger builds the same key with feedbackWindowKey). */
  feedbackWindowKey(sender: string, category: string): string {
    return this.feedbackWindows.key(sender, category);
  }

  indexReference(identities: string[], reference: string, retentionDays: number): Promise<void> {
    return this.references.indexReference(identities, reference, retentionDays);
  }

  reindex(urn: string, reference: string, ttlMs: number): Promise<boolean> {
    return this.references.reindex(urn, reference, ttlMs);
  }

  referencesOf(urn: string): Promise<string[]> {
    return this.references.referencesOf(urn);
  }

  referencesOfHashes(hashes: string[]): Promise<string[]> {
    return this.references.referencesOfHashes(hashes);
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
    // Each sealed URN counts as a key removed: what an operator is told went includes the person's number.
    const sealed = await this.links.forgetSealedUrns(hashes);
    const keys: string[] = [];
    for (const hash of hashes) keys.push(this.keys.refs(hash), this.keys.rate(hash), this.keys.whatsappWindow(hash), ...(await this.feedbackWindows.keysOf(hash)));
    return sealed + (await this.redis.del(...keys));
  }

  legacyHashKey(): Promise<'absent' | 'configured' | 'unconfigured'> {
    return this.legacyKey.state();
  }

  removeLegacyHashKey(): Promise<boolean> {
    return this.legacyKey.remove();
  }
}
