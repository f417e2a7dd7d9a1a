import { categoryOf } from '../domain/case-mapping';
import type { UnreferencedMessage } from '../domain/inbound-message';
import type { MappingSet } from '../mappings';
import { withinDeadline } from '../queues/deadline';
import type { Accepted, IntakeProducer } from '../queues/intake';
import type { ContactStore } from '../store/contacts';

export interface IntakeServiceOptions {
  prefix: string;
  enqueueTimeoutMs: number;
  sensitiveCategories: ReadonlySet<string>;
  feedbackMergeWindowSeconds: number;
}

export interface AcceptedMessage extends Accepted {
  sensitive: boolean;
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
  ) {}

  async accept(message: UnreferencedMessage): Promise<AcceptedMessage> {
    // Referrals go straight to the producer (which has its own deadline); feedback reads Redis first.
    if (message.intent !== 'feedback') return { ...(await this.producer.submit({ ...message, sensitive: false })), sensitive: false };
    return withinDeadline(() => this.classifyAndSubmit(message), this.opts.enqueueTimeoutMs);
  }

  private async classifyAndSubmit(message: UnreferencedMessage): Promise<AcceptedMessage> {
    const mapping = message.intent === 'feedback' ? this.mappings.get('feedback') : undefined;
    const category = mapping ? categoryOf({ results: message.results, text: message.text }, mapping) : null;
    const sensitive = category !== null && this.opts.sensitiveCategories.has(category);
    const sender = message.urn ?? message.contactUuid;
    const merge =
      category !== null && sender && this.opts.feedbackMergeWindowSeconds > 0
        ? { key: this.contacts.feedbackWindowKey(sender, category), windowSeconds: this.opts.feedbackMergeWindowSeconds }
        : undefined;
    const accepted = await this.producer.submit({ ...message, sensitive }, merge);
    return { ...accepted, sensitive };
  }
}
