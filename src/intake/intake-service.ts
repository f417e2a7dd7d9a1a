import { randomInt } from 'node:crypto';
import { categoryOf } from '../domain/case-mapping';
import { followUpDecision, type FollowUpRules } from '../domain/follow-up-target';
import type { UnreferencedMessage } from '../domain/inbound-message';
import { referenceNamed } from '../domain/named-reference';
import type { SenderRecord } from '../domain/sender-records';
import { referenceFromSequence } from '../domain/reference';
import type { MappingSet } from '../mappings';
import { withinDeadline } from '../queues/deadline';
import type { Accepted, IntakeProducer } from '../queues/intake';
import type { MergeWindow } from '../store/acceptances';
import type { ContactStore } from '../store/contacts';

export interface IntakeServiceOptions {
  prefix: string;
  enqueueTimeoutMs: number;
  sensitiveCategories: ReadonlySet<string>;
  feedbackMergeWindowSeconds: number;
}

export interface AcceptedMessage extends Accepted {
  sensitive: boolean;
  /** Joined to a record whose reporter said messages to this phone are not safe: send no acknowledgement. */
  silent?: boolean;
}

/**
 * How many of a sender's records a message without a keyword looks at: the most recently issued references
 * (the reference encodes its sequence number), so a number with hundreds of records costs the same reads as
 * one with twenty inside the acknowledgement deadline. Older records than these are neither joined nor named.
 */
export const FOLLOW_UP_LOOKUP_LIMIT = 20;

/** A repeat is as sensitive as its first delivery decided (the ledger's word), not as this delivery's look-up says. */
const withKept = (accepted: Accepted, decided: boolean): AcceptedMessage => ({ ...accepted, sensitive: accepted.sensitive ?? decided });

/** Where a message without a keyword may find the record it continues: the sender's own records and the rules. */
export interface FollowUpSource {
  records: { of(senders: Array<string | null | undefined>, limit?: number, opts?: { alsoNamed?: string | null }): Promise<SenderRecord[]> };
  rules: FollowUpRules;
  /** Told (with the error's name only) when the look-up failed and the message is stored as a referral instead. */
  lookupFailed(errorName: string): void;
}

/**
 * Who wrote, as far as the channel vouches for it: the identities a follow-up or a merge may be found under. A
 * RapidPro body's URN is whatever the caller typed (the token sits in every flow and resthook address), so a RapidPro
 * message is looked up by its contact UUID alone, as a STATUS look-up is (src/channels/rapidpro/status-route.ts): a
 * body naming someone else's number must neither join their case nor learn its reference. A provider's sender
 * (Twilio's signed From, WhatsApp's signed wa_id, Africa's Talking's from) is the only identity it has.
 */
export function sendersOf(message: Pick<UnreferencedMessage, 'channel' | 'urn' | 'contactUuid'>, otherUrns: string[] = []): Array<string | null> {
  if (message.channel === 'rapidpro') return [message.contactUuid];
  return [message.urn, ...otherUrns, message.contactUuid].filter((s) => s !== undefined);
}

/**
 * What every channel calls to hand a message over. Feedback is classified here, at ingest, because two
 * decisions cannot wait for the worker: whether the report is sensitive (it changes the acknowledgement),
 * and whether it continues an earlier report (the sender must get that report's reference).
 */
export class IntakeService {
  constructor(
    private readonly producer: IntakeProducer,
    private readonly contacts: ContactStore,
    private readonly mappings: MappingSet,
    private readonly opts: IntakeServiceOptions,
    private readonly followUps?: FollowUpSource,
  ) {}

  /**
   * A message with no keyword (SMS, WhatsApp, RapidPro's /message): a follow-up joined to the sender's open record
   * when it has one (see followUpTarget), else a referral, as before. The look-up is inside the caller's deadline,
   * so a Redis that does not answer still ends in 503. `otherUrns` are the same sender's linked ids.
   */
  async acceptUnclassified(message: UnreferencedMessage, deadlineAt = Date.now() + this.opts.enqueueTimeoutMs, otherUrns: string[] = []): Promise<AcceptedMessage> {
    const remaining = () => Math.max(1, deadlineAt - Date.now());
    if (message.simulation || !this.followUps || this.followUps.rules.windowDays <= 0) return this.accept(message, deadlineAt);
    const source = this.followUps;
    // A look-up that fails (a link that no longer unseals, Redis slow) must not keep the message out: it is stored
    // as a referral, within what is left of the deadline (none left: 503, as for any message).
    const named = referenceNamed(message.text);
    // The record named is read too, however old: a volunteer's words about an older (perhaps sensitive) case never
    // join the newest one for want of a read.
    const records = await withinDeadline(() => source.records.of(sendersOf(message, otherUrns), FOLLOW_UP_LOOKUP_LIMIT, { alsoNamed: named }), remaining()).catch((err: unknown) => {
      source.lookupFailed(err instanceof Error ? (err.cause instanceof Error ? err.cause.name : err.name) : 'unknown');
      return [];
    });
    const { target, sensitive, silent } = followUpDecision(records, named, new Date(), source.rules);
    // Not joined but about a sensitive record: protected like a sensitive report (its own record, the focal
    // point, never triage), though acknowledged as an ordinary message (provider-messages.ts).
    if (!target && sensitive) return withKept(await this.producer.accept({ ...message, sensitive: true }, undefined, remaining()), true);
    if (!target) return this.accept(message, deadlineAt);
    // A follow-up to a sensitive record is itself sensitive: it joins that record or, failing that, becomes a
    // sensitive report of its own, and never reaches triage (workers/intake.ts).
    return { ...withKept(await this.producer.accept({ ...message, sensitive }, undefined, remaining(), target.reference), sensitive), silent: silent === true };
  }

  /**
   * `deadlineAt` is the caller's whole budget: the producer's own deadline is the one that decides, because
   * only it knows how to make a late 503 true (see IntakeProducer.accept).
   */
  async accept(message: UnreferencedMessage, deadlineAt = Date.now() + this.opts.enqueueTimeoutMs): Promise<AcceptedMessage> {
    const remaining = () => Math.max(1, deadlineAt - Date.now());
    if (message.simulation) return this.simulated(message);
    if (message.intent !== 'feedback') return { ...(await this.producer.accept({ ...message, sensitive: false }, undefined, remaining())), sensitive: false };
    const { sensitive, merge } = await withinDeadline(() => this.classify(message), remaining());
    return withKept(await this.producer.accept({ ...message, sensitive }, merge, remaining()), sensitive);
  }

  private sensitivity(message: UnreferencedMessage): { category: string | null; sensitive: boolean } {
    const mapping = message.intent === 'feedback' ? this.mappings.get('feedback') : undefined;
    const category = mapping ? categoryOf({ results: message.results, text: message.text }, mapping) : null;
    return { category, sensitive: category !== null && this.opts.sensitiveCategories.has(category) };
  }

  /**
   * RapidPro's simulator (the flow editor) calls for real: it gets an answer that looks like the real one,
   * marked simulated, and nothing is stored, created or notified.
   */
  private simulated(message: UnreferencedMessage): AcceptedMessage {
    const reference = referenceFromSequence(randomInt(1, 2 ** 40));
    return { reference, duplicate: false, merged: false, simulated: true, sensitive: this.sensitivity(message).sensitive };
  }

  private async classify(message: UnreferencedMessage): Promise<{ sensitive: boolean; merge: MergeWindow | undefined }> {
    const { category, sensitive } = this.sensitivity(message);
    const [sender] = sendersOf(message);
    // A sensitive report is never merged: merging reads the earlier record back, and that record has been
    // handed to the focal point (out of the gateway's scope); each sensitive report gets its own record.
    const merge =
      category !== null && !sensitive && sender && this.opts.feedbackMergeWindowSeconds > 0
        ? { senderHash: await this.contacts.urnHash(sender), category, windowSeconds: this.opts.feedbackMergeWindowSeconds }
        : undefined;
    return { sensitive, merge };
  }
}
