import type { Queue } from 'bullmq';
import type { Config } from '../config';
import type { IdentifierHasher } from '../security/identifier-hash';
import { sealContext, type PayloadCodec } from '../security/payload-codec';
import { withinDeadline } from './deadline';
import { JOBS, type JobData } from './jobs';
import { QUEUES } from './names';
import type { QueueRegistry } from './registry';

/** The job holds the sender's number and the reply text, both sealed; it is removed once sent. */
const entry = JOBS[QUEUES.africastalkingReplies];

export type AfricasTalkingReplyJob = JobData<typeof QUEUES.africastalkingReplies>;

/** Whether this deployment can send an SMS through Africa's Talking (the same settings its caseworker messages need). */
export const africasTalkingSends = (config: Config): boolean => Boolean(config.AFRICASTALKING_USERNAME && config.AFRICASTALKING_API_KEY);

export interface AfricasTalkingReplyOptions {
  attempts: number;
  idempotencyWindowMs: number;
  enqueueTimeoutMs: number;
}

/**
 * Africa's Talking reads nothing in the answer to its inbound callback, so the acknowledgement (and a STATUS
 * answer) goes out as an SMS of its own through this queue.
 */
export class AfricasTalkingReplyProducer {
  constructor(
    readonly queue: Queue,
    private readonly codec: PayloadCodec,
    private readonly hasher: IdentifierHasher,
    private readonly opts: AfricasTalkingReplyOptions,
  ) {}

  /** Null while the send settings are unset: the message is stored and answered 200 as before, with no SMS back. */
  static fromConfig(config: Config, registry: QueueRegistry, codec: PayloadCodec, hasher: IdentifierHasher): AfricasTalkingReplyProducer | null {
    if (!africasTalkingSends(config)) return null;
    return new AfricasTalkingReplyProducer(registry.get(QUEUES.africastalkingReplies), codec, hasher, {
      attempts: config.REPLY_ATTEMPTS,
      idempotencyWindowMs: config.IDEMPOTENCY_WINDOW_HOURS * 3600_000,
      enqueueTimeoutMs: config.ENQUEUE_TIMEOUT_MS,
    });
  }

  /**
   * One reply per inbound message id for the idempotency window: a callback delivered again is answered once.
   * BullMQ's deduplication key (named by a keyed hash of the id) is deleted by its TTL, not by the job's end.
   */
  async enqueue(inboundId: string, job: AfricasTalkingReplyJob): Promise<void> {
    await withinDeadline(
      () =>
        this.queue.add(
          entry.name,
          this.codec.encode({ ...job }, [...entry.sealed], sealContext.job(this.queue.name)),
          entry.options(this.opts.attempts, { id: this.hasher.deduplicationId(entry.dedupeKey(inboundId)), ttl: this.opts.idempotencyWindowMs }),
        ),
      this.opts.enqueueTimeoutMs,
    );
  }
}
