import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { deduplicationId } from '../domain/idempotency';
import type { RecordSnapshot } from '../domain/record-events';
import { withinDeadline } from './deadline';
import { notificationJobOptions, type JobRetention } from './job-defaults';
import { QUEUES } from './names';

/**
 * A look at a Primero record, from a webhook or the poller. Both key it by record and last update, so the
 * same change arriving by both roads is one job.
 */
export class PrimeroEventProducer {
  readonly queue: Queue;

  constructor(
    redis: Redis,
    prefix: string,
    private readonly retention: JobRetention,
    private readonly enqueueTimeoutMs: number,
  ) {
    this.queue = new Queue(QUEUES.primeroEvents, { connection: redis, prefix });
    this.queue.on('error', () => undefined);
  }

  /** Returns false when this change was already queued (a duplicate webhook, or the poller saw it first). */
  async submit(snapshot: RecordSnapshot): Promise<boolean> {
    const key = `primero-change:${snapshot.recordId}:${snapshot.lastUpdatedAt}`;
    // A fresh id per call: a duplicate add returns the first job's id, which is how a repeat is told apart.
    const jobId = `c-${deduplicationId(key).slice(0, 24)}-${randomUUID().slice(0, 8)}`;
    return withinDeadline(async () => {
      const job = await this.queue.add('record-changed', snapshot, { ...notificationJobOptions(key, this.retention), jobId });
      return job.id === jobId;
    }, this.enqueueTimeoutMs);
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
