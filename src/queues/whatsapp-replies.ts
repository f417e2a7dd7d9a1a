import type { Queue } from 'bullmq';
import type { IdentifierHasher } from '../security/identifier-hash';
import { sealContext, type PayloadCodec } from '../security/payload-codec';
import { withinDeadline } from './deadline';
import { JOBS, type JobData } from './jobs';
import { QUEUES } from './names';

/** The job holds the recipient's WhatsApp id (needed to send) and a fixed text; it is removed once sent. */
const entry = JOBS[QUEUES.whatsappReplies];

export interface WhatsAppReplyOptions {
  attempts: number;
  idempotencyWindowMs: number;
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
  async enqueue(inboundWamid: string, job: JobData<typeof QUEUES.whatsappReplies>): Promise<void> {
    await withinDeadline(
      () =>
        this.queue.add(
          entry.name,
          this.codec.encode({ ...job }, [...entry.sealed], sealContext.job(this.queue.name)),
          entry.options(this.opts.attempts, { id: this.hasher.deduplicationId(entry.dedupeKey(inboundWamid)), ttl: this.opts.idempotencyWindowMs }),
        ),
      this.opts.enqueueTimeoutMs,
    );
  }
}
