import type { Classification, KeywordTable, ReplyKind } from '../domain/keywords';
import { replyText } from '../domain/keywords';
import type { InboundMessage, UnreferencedMessage } from '../domain/inbound-message';
import { referenceNamed } from '../domain/named-reference';
import { STATUS_LOOKUP_CAP, STATUS_LOOKUP_LIMIT, tellable, type SenderRecord } from '../domain/sender-records';
import { STATUS_LIST_MAX } from '../domain/status-reply';
import { statusReplyText } from '../domain/status-reply';
import { parseUrn } from '../domain/urn';
import type { Logger } from '../logger';
import { withinDeadline } from '../queues/deadline';
import { WITHDRAW_ANSWER_MS } from '../queues/intake';
import type { AcceptedMessage, IntakeService } from './intake-service';
import type { ContactStore } from '../store/contacts';

/** What an SMS or WhatsApp provider told us, before any interpretation. */
export interface ProviderMessage {
  channel: Exclude<InboundMessage['channel'], 'rapidpro'>;
  providerId: string;
  urn: string;
  text: string;
  attachments: string[];
  receivedAt: Date;
  /** The same sender's other URNs in this message (WhatsApp `from_user_id` next to `from`): linked, never a second person. */
  otherUrns?: string[];
}

export interface ProviderMessageOutcome {
  /** null for opt-out / opt-in, which are recorded but open no case. */
  reference: string | null;
  duplicate: boolean;
  /** The acknowledgement to send, or null when the sender must not get one (opted out, flooding, a loop). */
  reply: string | null;
  /** The message is protected as sensitive, and its reply was chosen knowing so (a reply queued carries it). */
  sensitive: boolean;
  /** What the reply answers: a STOP's or START's confirmation is gated by the opt-out the other way round. */
  answers: 'optout' | 'optin' | 'other';
}

export interface ProviderMessageAcceptorOptions {
  enqueueTimeoutMs: number;
  rateLimit: number;
  rateWindowSeconds: number;
  /** Our own numbers and short codes: a message from one of them is a loop and is never answered. */
  ownAddresses: ReadonlySet<string>;
  /** PRIMERO_USER: a record it still owns is "received", not "in progress", in a STATUS answer. */
  gatewayUser: string;
}


/** A sender's own records (src/cases/sender-records.ts), for STATUS. */
export interface OwnRecords {
  of(senders: Array<string | null | undefined>, limit?: number, opts?: { named?: string | null; until?: (read: SenderRecord[]) => boolean; cap?: number }): Promise<SenderRecord[]>;
}

/**
 * Accepts a message a provider delivered straight to us (SMS or WhatsApp, not a RapidPro flow): its keyword
 * decides the intent, opt-outs and the sender rate limit decide the reply, and it is stored through the same
 * intake as RapidPro's, so every such channel behaves alike.
 */
export class ProviderMessageAcceptor {
  constructor(
    private readonly intake: IntakeService,
    private readonly contacts: ContactStore,
    private readonly classify: (text: string) => Classification,
    private readonly table: KeywordTable,
    private readonly opts: ProviderMessageAcceptorOptions,
    private readonly logger: Logger,
    private readonly records: OwnRecords,
  ) {}

  private isLoop(urn: string): boolean {
    const parsed = parseUrn(urn);
    if (!parsed) return true;
    const address = parsed.path.replace(/^\+/, '');
    // Short codes and alphanumeric sender ids cannot receive our replies; answering them starts loops.
    const shortCode = parsed.scheme === 'tel' && !/^\+?[0-9]{7,15}$/.test(parsed.path);
    return shortCode || this.opts.ownAddresses.has(address);
  }

  /**
   * Everything here touches Redis; when Redis is away the provider gets 503 and keeps the message. Once the
   * message is stored the answer is 2xx whatever happens next (a 503 then would make the provider resend a
   * message that is already in a case): without a reply when the reply could not be prepared in time.
   */
  async accept(msg: ProviderMessage): Promise<ProviderMessageOutcome> {
    // The store's answer is the producer's (from the acceptance's verdict); the bound here covers the rest, a little later.
    const deadlineAt = Date.now() + this.opts.enqueueTimeoutMs;
    const boundMs = this.opts.enqueueTimeoutMs + WITHDRAW_ANSWER_MS + 100;
    const c = this.classify(msg.text);
    const loop = this.isLoop(msg.urn);
    // Linked before anything reads the opt-out: a STOP in this very message is recorded under both ids.
    if (msg.otherUrns?.length) await withinDeadline(() => this.contacts.link(msg.urn, msg.otherUrns!), boundMs);
    if (c.intent === 'optout' || c.intent === 'optin') return withinDeadline(() => this.preference(msg, c, loop), boundMs);
    if (c.intent === 'status') return withinDeadline(() => this.status(msg, c, loop), boundMs);
    if (c.statusIfOwn && (await withinDeadline(() => this.ownReference(msg, c.statusIfOwn!.reference), boundMs))) {
      return withinDeadline(() => this.status(msg, { intent: 'status', language: c.statusIfOwn!.language, narrative: c.statusIfOwn!.narrative }, loop), boundMs);
    }

    const message = this.envelope(msg, c);
    // No keyword: a follow-up when the sender has an open record, else a referral (nothing a child writes is dropped).
    const accepted = c.intent === null ? await this.intake.acceptUnclassified(message, deadlineAt, msg.otherUrns) : await this.intake.accept(message, deadlineAt);
    const reply = await withinDeadline(() => this.replyFor(msg, c, loop, accepted), Math.max(WITHDRAW_ANSWER_MS, deadlineAt + WITHDRAW_ANSWER_MS + 100 - Date.now())).catch((err: unknown) => {
      this.logger.warn({ reference: accepted.reference, channel: msg.channel, error: err instanceof Error ? err.name : 'unknown' }, 'message stored; no reply sent: the sender counters could not be read in time');
      return null;
    });
    return { reference: accepted.reference, duplicate: accepted.duplicate, reply, sensitive: accepted.sensitive, answers: 'other' };
  }

  private envelope(msg: ProviderMessage, c: Classification): UnreferencedMessage {
    return {
      v: 1,
      intent: c.intent === 'feedback' ? 'feedback' : 'referral',
      channel: msg.channel,
      idempotencyKey: `${msg.channel}:${msg.providerId}`,
      urn: msg.urn,
      contactUuid: null,
      language: c.language,
      text: c.narrative || null,
      attachments: msg.attachments,
      results: {},
      flowUuid: null,
      receivedAt: msg.receivedAt.toISOString(),
      simulation: false,
    };
  }

  /**
   * STATUS: nothing is stored; the answer lists the sender's own records by reference and status word only. Counted
   * in the sender rate like any message, so STATUS cannot be used to flood a number with answers.
   */
  private async status(msg: ProviderMessage, c: Classification, loop: boolean): Promise<ProviderMessageOutcome> {
    const { count, sender } = await this.contacts.recordInbound(msg.urn, this.opts.rateWindowSeconds, true);
    const flooding = count > this.opts.rateLimit;
    this.logger.info({ channel: msg.channel, intent: 'status', keyword: true, language: c.language, sender }, 'status asked');
    if (loop || flooding) return { reference: null, duplicate: false, reply: null, sensitive: false, answers: 'other' };
    const named = referenceNamed(c.narrative);
    const enough = (read: SenderRecord[]) => read.filter(tellable).length >= STATUS_LIST_MAX;
    const records = await this.records.of([msg.urn, ...(msg.otherUrns ?? [])], STATUS_LOOKUP_LIMIT, { named, until: enough, cap: STATUS_LOOKUP_CAP });
    return { reference: null, duplicate: false, reply: statusReplyText(this.table, c.language, records, named, this.opts.gatewayUser), sensitive: false, answers: 'other' };
  }

  /** Whether `reference` is one of the sender's own records (a STATUS followed by a reference of letters only). */
  private async ownReference(msg: ProviderMessage, reference: string): Promise<boolean> {
    return (await this.records.of([msg.urn, ...(msg.otherUrns ?? [])], Infinity, { named: reference })).some((r) => r.reference === reference);
  }

  private async preference(msg: ProviderMessage, c: Classification, loop: boolean): Promise<ProviderMessageOutcome> {
    if (c.intent === 'optout') await this.contacts.optOut(msg.urn);
    else await this.contacts.optIn(msg.urn);
    this.logger.info({ channel: msg.channel, sender: await this.contacts.urnHash(msg.urn), action: c.intent }, 'contact preference recorded');
    return { reference: null, duplicate: false, reply: loop ? null : replyText(this.table, c.language, c.intent as 'optout' | 'optin', null), sensitive: false, answers: c.intent === 'optout' ? 'optout' : 'optin' };
  }

  private async replyFor(msg: ProviderMessage, c: Classification, loop: boolean, accepted: AcceptedMessage): Promise<string | null> {
    const { count, optedOut, sender } = await this.contacts.recordInbound(msg.urn, this.opts.rateWindowSeconds, !accepted.duplicate);
    const flooding = count > this.opts.rateLimit;
    this.logger.info(
      { reference: accepted.reference, channel: msg.channel, intent: c.intent ?? 'referral', keyword: c.intent !== null, followUp: accepted.followUp === true, language: c.language, duplicate: accepted.duplicate, sender },
      'message accepted',
    );
    if (flooding && count === this.opts.rateLimit + 1) this.logger.warn({ sender, channel: msg.channel }, 'sender over the rate limit: stored, not answered');
    // A sensitive report is acknowledged with its reference only: nothing about what was reported. Only one the
    // sender chose to make (a feedback keyword) says so: words without a keyword that were kept apart because of
    // a sensitive record get the ordinary answer, which tells whoever holds the phone nothing about it.
    const sensitiveAck = accepted.sensitive && c.intent === 'feedback';
    const kind: ReplyKind = sensitiveAck ? 'feedback_sensitive' : accepted.followUp ? 'follow_up' : ((c.intent as ReplyKind | null) ?? 'unknown');
    // `silent`: the record it joined says messages to this phone are not safe; an acknowledgement is one.
    return loop || optedOut || flooding || accepted.silent ? null : replyText(this.table, c.language, kind, accepted.reference);
  }
}
