import type { Queue } from 'bullmq';
import { canonicalJson } from '../domain/idempotency';
import type { WhatsAppUnreadable } from '../channels/whatsapp/parse';
import { whatsappSenders } from '../channels/whatsapp/senders';
import type { IdentifierHasher } from '../security/identifier-hash';
import { sealContext, type PayloadCodec } from '../security/payload-codec';
import { withinDeadline } from './deadline';
import { JOBS, type JobData } from './jobs';
import { QUEUES } from './names';

const entry = JOBS[QUEUES.whatsappUnreadable];

/**
 * A WhatsApp message we could not read, kept whole so an operator can inspect it and, once the parser reads
 * it, replay it into intake. `text` is the message as Meta sent it (JSON), `waId` the sender when one is there
 * and `wamid` its id (which encodes the phone number): all sealed with DATA_KEY and masked in the admin API;
 * `reason` names fields, never content.
 */
export type WhatsAppUnreadableJob = JobData<typeof QUEUES.whatsappUnreadable>;

export interface WhatsAppUnreadableOptions {
  idempotencyWindowMs: number;
  enqueueTimeoutMs: number;
}

export class WhatsAppUnreadableProducer {
  constructor(
    readonly queue: Queue,
    private readonly codec: PayloadCodec,
    private readonly hasher: IdentifierHasher,
    private readonly opts: WhatsAppUnreadableOptions,
  ) {}

  /**
   * One job per message (a re-delivered webhook adds none). Its one attempt fails at once, so it lives in the
   * failed set — the dead letters — until an operator replays or discards it.
   */
  async keep(item: WhatsAppUnreadable): Promise<void> {
    const raw = canonicalJson(item.message ?? null);
    const sender = (item.message as { from?: unknown; from_user_id?: unknown } | null) ?? {};
    const waId = typeof sender.from === 'string' && sender.from ? sender.from : typeof sender.from_user_id === 'string' ? sender.from_user_id : null;
    const senders = whatsappSenders(item.message).map((id) => this.hasher.hash(`whatsapp:${id}`));
    const job: WhatsAppUnreadableJob = { wamid: item.wamid, reason: item.reason, waId, text: raw, senders };
    await withinDeadline(
      () =>
        this.queue.add(
          entry.name,
          this.codec.encode({ ...job }, [...entry.sealed], sealContext.job(this.queue.name)),
          entry.options({ id: this.hasher.deduplicationId(entry.dedupeKey(item.wamid ?? raw)), ttl: this.opts.idempotencyWindowMs }),
        ),
      this.opts.enqueueTimeoutMs,
    );
  }
}
