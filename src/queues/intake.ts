import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { deduplicationId } from '../domain/idempotency';
import type { InboundMessage, UnreferencedMessage } from '../domain/inbound-message';
import type { ReferenceStore } from '../store/references';
import { QueueUnavailableError, withinDeadline } from './deadline';
import { QUEUES } from './names';

export { QueueUnavailableError };

export const INTAKE_JOB = 'inbound-message';
/** Marks the backoff as ours (`workers/retry-policy`), so Retry-After and the cap apply. */
export const GATEWAY_BACKOFF = 'gateway';

export interface IntakeOptions {
  prefix: string;
  attempts: number;
  idempotencyWindowMs: number;
  completedRetentionSeconds: number;
  deadLetterRetentionDays: number;
  enqueueTimeoutMs: number;
}

export interface Accepted {
  reference: string;
  duplicate: boolean;
}

const jobIdFor = (reference: string) => `m-${reference}`;

export function referenceOfJobId(jobId: string): string {
  return jobId.startsWith('m-') ? jobId.slice(2) : jobId;
}

/** The only way a message enters the gateway: stored in Redis before anyone is told it was accepted. */
export class IntakeProducer {
  readonly queue: Queue<InboundMessage>;
  private readonly jobOptions: JobsOptions;

  constructor(
    private readonly redis: Redis,
    private readonly references: ReferenceStore,
    private readonly opts: IntakeOptions,
  ) {
    this.queue = new Queue<InboundMessage>(QUEUES.intake, { connection: redis, prefix: opts.prefix });
    // Errors surface through add(); this only keeps an unhandled 'error' event from crashing the process.
    this.queue.on('error', () => undefined);
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
  async submit(message: UnreferencedMessage): Promise<Accepted> {
    return withinDeadline(async () => {
      const reference = await this.references.next();
      const jobId = jobIdFor(reference);
      const job = await this.queue.add(INTAKE_JOB, { ...message, reference } as InboundMessage, {
        ...this.jobOptions,
        jobId,
        deduplication: { id: deduplicationId(message.idempotencyKey), ttl: this.opts.idempotencyWindowMs },
      });
      const storedId = job.id ?? jobId;
      return { reference: referenceOfJobId(storedId), duplicate: storedId !== jobId };
    }, this.opts.enqueueTimeoutMs);
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
