import type { Queue } from 'bullmq';
import { deduplicationId } from '../domain/idempotency';
import type { PayloadCodec } from '../security/payload-codec';
import { withinDeadline } from './deadline';
import { GATEWAY_BACKOFF } from './intake';

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
    private readonly opts: WhatsAppReplyOptions,
  ) {}

  /** One reply per inbound wamid: a re-delivered webhook does not send the acknowledgement twice. */
  async enqueue(inboundWamid: string, job: WhatsAppReplyJob): Promise<void> {
    await withinDeadline(
      () =>
        this.queue.add('reply', this.codec.encode({ ...job }, ['waId', 'text']), {
          attempts: this.opts.attempts,
          backoff: { type: GATEWAY_BACKOFF },
          deduplication: { id: deduplicationId(`whatsapp-reply:${inboundWamid}`), ttl: this.opts.idempotencyWindowMs },
          removeOnComplete: true,
          removeOnFail: false,
        }),
      this.opts.enqueueTimeoutMs,
    );
  }
}
