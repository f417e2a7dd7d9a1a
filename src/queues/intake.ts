import type { JobsOptions, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { InboundMessage, UnreferencedMessage } from '../domain/inbound-message';
import type { IdentifierHasher } from '../security/identifier-hash';
import { PERSONAL_MESSAGE_FIELDS, sealContext, type PayloadCodec } from '../security/payload-codec';
import type { ReferenceStore } from '../store/references';
import { QueueUnavailableError, withinDeadline } from './deadline';

export { QueueUnavailableError };

export const INTAKE_JOB = 'inbound-message';
/** Marks the backoff as ours (`workers/retry-policy`), so Retry-After and the cap apply. */
export const GATEWAY_BACKOFF = 'gateway';

export interface IntakeOptions {
  attempts: number;
  idempotencyWindowMs: number;
  completedRetentionSeconds: number;
  deadLetterRetentionDays: number;
  enqueueTimeoutMs: number;
}

export interface Accepted {
  reference: string;
  duplicate: boolean;
  /** Added to an earlier report's record instead of opening a new one. */
  merged: boolean;
}

/** Groups later reports into an earlier one: the same key within `windowSeconds` answers the first reference. */
export interface MergeWindow {
  key: string;
  windowSeconds: number;
}

/**
 * Job ids carry the reference the sender was given: `m-<reference>`, or `m-<reference>-<own>` for a message
 * merged into an earlier report. A duplicate delivery learns the reference from the stored job id alone.
 */
export function referenceOfJobId(jobId: string): string {
  return jobId.startsWith('m-') ? jobId.slice(2).split('-')[0]! : jobId;
}

/** The only way a message enters the gateway: stored in Redis before anyone is told it was accepted. */
export class IntakeProducer {
  private readonly jobOptions: JobsOptions;

  constructor(
    readonly queue: Queue,
    private readonly redis: Redis,
    private readonly references: ReferenceStore,
    private readonly codec: PayloadCodec,
    private readonly hasher: IdentifierHasher,
    private readonly opts: IntakeOptions,
  ) {
    this.jobOptions = {
      attempts: opts.attempts,
      backoff: { type: GATEWAY_BACKOFF },
      removeOnComplete: { age: opts.completedRetentionSeconds },
      // The failed set is the dead-letter store; it is purged after the retention period.
      removeOnFail: { age: opts.deadLetterRetentionDays * 86400 },
    };
  }

  /**
   * Stores the message once per idempotency key. BullMQ's deduplication key outlives the job for the
   * whole window and holds the first job's id, so a repeat delivery learns the first reference.
   */
  async submit(message: UnreferencedMessage, merge?: MergeWindow): Promise<Accepted> {
    return withinDeadline(async () => {
      const own = await this.references.next();
      // SET NX GET: the first report in the window claims the key; a later one reads the first reference.
      const earlier = merge ? await this.redis.set(merge.key, own, 'EX', merge.windowSeconds, 'NX', 'GET') : null;
      const reference = earlier ?? own;
      const jobId = earlier ? `m-${earlier}-${own}` : `m-${own}`;
      // The provider's id (a wamid encodes the sender's number) is kept only as its keyed hash.
      const idempotencyKey = this.hasher.deduplicationId(message.idempotencyKey);
      const data = this.codec.encode({ ...message, idempotencyKey, reference, mergeInto: earlier } as InboundMessage, PERSONAL_MESSAGE_FIELDS, sealContext.job(this.queue.name));
      const job = await this.queue.add(INTAKE_JOB, data, {
        ...this.jobOptions,
        jobId,
        deduplication: { id: idempotencyKey, ttl: this.opts.idempotencyWindowMs },
      });
      const storedId = job.id ?? jobId;
      return { reference: referenceOfJobId(storedId), duplicate: storedId !== jobId, merged: earlier !== null && storedId === jobId };
    }, this.opts.enqueueTimeoutMs);
  }
}
