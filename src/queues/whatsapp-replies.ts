import type { Queue } from 'bullmq';
import type { IdentifierHasher } from '../security/identifier-hash';
import { sealContext, type PayloadCodec } from '../security/payload-codec';
import { withinDeadline } from './deadline';
import { jobOptions, JOB_NAMES, SEALED_FIELDS } from './jobs';
import { QUEUES } from './names';

/** The job holds the recipient's WhatsApp id (needed to send) and a fixed text; it is removed once sent. */
export interface WhatsAppReplyJob {
  waId: string;
  text: string;
  reference: string | null;
}

export interface WhatsAppReplyOptions {
  attempts: number;
  idempotencyWindowMs: number;
  deadLetterRetentionDays: number;
  enqueueTimeoutMs: number;
}

export class WhatsAppReplyProducer {
  constructor(
    readonly queue: Queue,
    private readonly codec: PayloadCodec,
    private readonly hasher: IdentifierHasher,
    private readonly opts: WhatsAppReplyOptions,
  ) {}

  /** One reply per inbound wamid: a re-delivered webhook does not send the acknowledgement twice. */
  async enqueue(inboundWamid: string, job: WhatsAppReplyJob): Promise<void> {
    await withinDeadline(
      () =>
        this.queue.add(
          JOB_NAMES[QUEUES.whatsappReplies],
          this.codec.encode({ ...job }, [...SEALED_FIELDS[QUEUES.whatsappReplies]], sealContext.job(this.queue.name)),
          jobOptions.whatsappReply(this.opts.attempts, { id: this.hasher.deduplicationId(`whatsapp-reply:${inboundWamid}`), ttl: this.opts.idempotencyWindowMs }),
        ),
      this.opts.enqueueTimeoutMs,
    );
  }
}
