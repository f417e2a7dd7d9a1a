import type { RedisConnection } from '../queues/connection';
import { referenceFromSequence } from '../domain/reference';
import { sealContext, type PayloadCodec } from '../security/payload-codec';
import type { CounterField } from './counters';
import { gatewayKey, replaceFieldIfUnchanged, scanKeys } from './keys';
import { SAVE_LINK_IF_ABSENT, SET_ON_LINK } from './link-scripts';
import { LOWER_OR_FILL_SAFE } from './safe-to-contact-script';

// `referringAt`, `flaggingAt` and `assigningAt` are written (on Redis's clock) before their call, the `…edAt` step
// after it; `notifiedAt` once notifications are queued.
export const STEPS = ['referredAt', 'flaggedAt', 'assignedAt', 'referringAt', 'flaggingAt', 'assigningAt', 'notifiedAt'] as const;
export type Step = (typeof STEPS)[number];

export interface CaseLink {
  reference: string;
  recordType: 'case' | 'incident';
  caseId: string;
  caseIdDisplay: string | null;
  urn: string | null;
  /** The RapidPro contact UUID (lowercase), sealed like the URN: "forget" by URN finds its contact-refs by it. */
  contactUuid?: string | null;
  channel: string;
  intent: string;
  sensitive: boolean;
  createdAt: string;
  /** Read from the record at creation; the notifications sent after the follow-up steps need it. */
  urgent?: boolean;
  /**
   * The person's answer to "is it safe to contact you?" as the record holds it (the mapping's safe_to_contact_field):
   * false silences the gateway's own messages and STATUS; null is unknown (no such field, no answer, a link saved
   * before the answer was kept). After creation a no is never undone: merges lower it, and each look at the record
   * (its webhook body, the gateway's read) lowers it when a caseworker unticked the field (an unknown takes the
   * record's value).
   */
  safeToContact?: boolean | null;
  /**
   * The safe-to-contact field Primero last showed the gateway on this record (a read or a webhook body carried it),
   * or null: a read without that same field since is Primero leaving out a field the API user's role may not read,
   * not an unanswered question (a mapping moved to another field has shown nothing yet).
   */
  safeSeen?: string | null;
  /** Follow-up steps done on the record (referral, flag, assignment), so a retried job does none twice. */
  steps: Partial<Record<Step, string>>;
}

/**
 * reference → Primero record, kept as long as the record can still be notified about
 * (REFERENCE_RETENTION_DAYS), so a later case event can find the person who wrote in.
 */
const REFERENCE_BLOCK = 100;

const safeField = (safe: boolean | null | undefined) => (safe === true ? '1' : safe === false ? '0' : '');

export class ReferenceStore {
  private block = { next: 1, end: 0 };
  private refill: Promise<void> | null = null;

  constructor(
    private readonly redis: RedisConnection,
    private readonly prefix: string,
    private readonly retentionDays: number,
    private readonly codec: PayloadCodec,
  ) {
    // After a reconnect Redis may have restarted and lost its last second (AOF everysec), counter included:
    // a block taken before then could be handed out again by the next INCRBY. Start a fresh block instead.
    redis.on('ready', () => this.discardBlock());
  }

  /**
   * The next reference comes from a fresh block. Also after a claim found a reference already taken: a reconnect
   * is not always seen (a cluster's slot moving to a promoted replica emits no 'ready'), the claim's check is.
   */
  discardBlock(): void {
    this.block = { next: 1, end: 0 };
  }

  /**
   * Sequence numbers are taken from Redis a block at a time (one INCRBY per 100 messages instead of one INCR
   * each: a Redis round trip less on the ingest path). Blocks never overlap between processes; numbers left
   * in a block at shutdown are skipped, which the 2^40 space allows.
   */
  async next(): Promise<string> {
    if (this.block.next > this.block.end) {
      this.refill ??= this.redis.incrby(gatewayKey(this.prefix, 'seq', 'reference'), REFERENCE_BLOCK).then(
        (end) => {
          this.block = { next: end - REFERENCE_BLOCK + 1, end };
          this.refill = null;
        },
        (err: unknown) => {
          this.refill = null;
          throw err;
        },
      );
      await this.refill;
      if (this.block.next > this.block.end) return this.next();
    }
    return referenceFromSequence(this.block.next++);
  }

  private key(reference: string): string {
    return gatewayKey(this.prefix, 'ref', reference);
  }

  /**
   * Saves the link and the record → reference index together, only when the reference has no link yet:
   * the first record linked to a reference keeps it, and the caller gets that link back (null when this
   * one was saved). Both keys expire with the retention; a crash between the two writes cannot happen
   * (one Lua script). `countAs` is incremented when, and only when, this call saved the link.
   */
  async saveLink(link: CaseLink, countAs?: CounterField): Promise<CaseLink | null> {
    const fields: Record<string, string> = {
      reference: link.reference,
      recordType: link.recordType,
      caseId: link.caseId,
      caseIdDisplay: link.caseIdDisplay ?? '',
      urn: link.urn ? this.codec.sealValue(link.urn, sealContext.referenceUrn(link.reference)) : '',
      contact: link.contactUuid ? this.codec.sealValue(link.contactUuid, sealContext.referenceContact(link.reference)) : '',
      channel: link.channel,
      intent: link.intent,
      sensitive: link.sensitive ? '1' : '',
      createdAt: link.createdAt,
      urgent: link.urgent ? '1' : '',
      safe: safeField(link.safeToContact),
    };
    for (const [step, at] of Object.entries(link.steps)) fields[`step:${step}`] = at;
    const key = this.key(link.reference);
    const ttl = this.retentionDays * 86400;
    const flat = Object.entries(fields).flat();
    const keys = [key, gatewayKey(this.prefix, 'record-ref', link.caseId), ...(countAs ? [countAs.key] : [])];
    const saved = await SAVE_LINK_IF_ABSENT.run(this.redis, keys, [ttl, link.reference, countAs?.field ?? '', ...flat]);
    return saved === 1 ? null : this.get(link.reference);
  }

  /** Primero record id → reference (written with the link), so a later event on the record finds the person. */
  async referenceOfRecord(recordId: string): Promise<string | null> {
    return this.redis.get(gatewayKey(this.prefix, 'record-ref', recordId));
  }

  /** A later report said it is not safe (or did not say it is): the link says not safe from then on, never safe again. */
  async lowerSafeToContact(reference: string): Promise<void> {
    await LOWER_OR_FILL_SAFE.run(this.redis, [this.key(reference)], [safeField(false), '']);
  }

  /**
   * What the record says (a caseworker ticked or unticked the field), followed down, never up: a no lowers the link;
   * a yes only answers an unknown, never a no (the person's own "not safe" outlives a yes the record may still show).
   * `field` is the one Primero showed it in: kept as `safeSeen`.
   */
  async followRecordSafeToContact(reference: string, safe: boolean, field: string): Promise<void> {
    await LOWER_OR_FILL_SAFE.run(this.redis, [this.key(reference)], [safeField(safe), field]);
  }

  /** The display id read after the create (Primero never changes it): kept so it is read once per record. */
  async keepDisplayId(reference: string, caseIdDisplay: string): Promise<void> {
    await SET_ON_LINK.run(this.redis, [this.key(reference)], ['caseIdDisplay', caseIdDisplay]);
  }

  /** A link forgotten (or expired) while its job still runs is not brought back without an end. */
  async mark(reference: string, step: Step, at: Date = new Date()): Promise<void> {
    await SET_ON_LINK.run(this.redis, [this.key(reference)], [`step:${step}`, at.toISOString()]);
  }

  /**
   * Redis's clock (ms): the one clock every worker host shares, so a step begun on one host is timed on another
   * without their clocks' skew shortening the wait.
   */
  async now(): Promise<number> {
    const [seconds, micros] = await this.redis.time();
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  }

  /** Records that a step's call is about to begin, on Redis's clock (see `now`). */
  async markBegun(reference: string, step: 'referringAt' | 'flaggingAt' | 'assigningAt'): Promise<void> {
    await this.mark(reference, step, new Date(await this.now()));
  }

  async remove(reference: string): Promise<number> {
    // The record id is plain: a link whose sealed fields no key opens is removed all the same.
    const caseId = await this.redis.hget(this.key(reference), 'caseId');
    return this.redis.del(this.key(reference), ...(caseId ? [gatewayKey(this.prefix, 'record-ref', caseId)] : []));
  }

  /**
   * Rewrites every link's sealed URN under the current key; `visit` sees each URN that opened (reseal uses
   * it to re-index the sender under the current hash key). Reports the links whose URN could not be opened.
   */
  async reseal(visit: (reference: string, urn: string, ttlMs: number | null) => Promise<void>): Promise<{ resealed: number; current: number; unreadable: string[] }> {
    const out = { resealed: 0, current: 0, unreadable: [] as string[] };
    const head = this.key('');
    for await (const keys of scanKeys(this.redis, `${head}*`)) {
      for (const key of keys) {
        const reference = key.slice(head.length);
        const [stored, contact] = await this.redis.hmget(key, 'urn', 'contact');
        if (contact) {
          try {
            const updated = this.codec.resealValue(contact, sealContext.referenceContact(reference));
            if (updated === null) out.current++;
            else if (await replaceFieldIfUnchanged(this.redis, key, 'contact', contact, updated)) out.resealed++;
          } catch {
            out.unreadable.push(`${reference} (contact)`);
          }
        }
        if (!stored) continue;
        const context = sealContext.referenceUrn(reference);
        let urn: string;
        let updated: string | null;
        try {
          urn = this.codec.openValue(stored, context);
          updated = this.codec.resealValue(stored, context);
        } catch {
          out.unreadable.push(reference);
          continue;
        }
        if (updated === null) out.current++;
        else {
          if (await replaceFieldIfUnchanged(this.redis, key, 'urn', stored, updated)) out.resealed++;
        }
        const ttl = await this.redis.pttl(key);
        await visit(reference, urn, ttl > 0 ? ttl : null);
      }
    }
    return out;
  }

  async get(reference: string): Promise<CaseLink | null> {
    const h = await this.redis.hgetall(this.key(reference));
    if (!h.caseId) return null;
    const steps: Partial<Record<Step, string>> = {};
    for (const step of STEPS) if (h[`step:${step}`]) steps[step] = h[`step:${step}`];
    return {
      reference,
      recordType: h.recordType === 'incident' ? 'incident' : 'case',
      caseId: h.caseId,
      caseIdDisplay: h.caseIdDisplay || null,
      urn: h.urn ? this.codec.openValue(h.urn, sealContext.referenceUrn(reference)) : null,
      contactUuid: h.contact ? this.codec.openValue(h.contact, sealContext.referenceContact(reference)) : null,
      channel: h.channel ?? '',
      intent: h.intent ?? '',
      sensitive: h.sensitive === '1',
      createdAt: h.createdAt ?? '',
      urgent: h.urgent === '1',
      safeToContact: h.safe === '1' ? true : h.safe === '0' ? false : null,
      safeSeen: h.safeSeen || null,
      steps,
    };
  }
}
