import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import { sha256Hex } from '../domain/idempotency';
import type { RecordLook } from '../domain/record-events';
import { withinDeadline } from './deadline';
import { notificationJobOptions, type JobRetention } from './job-defaults';
import { JOB_NAMES } from './jobs';
import { QUEUES } from './names';

/**
 * A look at a Primero record, from a webhook or the poller. Both key it by record and last update, so the
 * same change arriving by both roads is one job.
 */
export class PrimeroEventProducer {
  constructor(
    private readonly queue: Queue,
    private readonly retention: JobRetention,
    private readonly enqueueTimeoutMs: number,
  ) {}

  /** Returns false when this change was already queued (a duplicate webhook, or the poller saw it first). */
  async submit(snapshot: RecordLook): Promise<boolean> {
    const key = `primero-change:${snapshot.recordId}:${snapshot.lastUpdatedAt}`;
    // A fresh id per call: a duplicate add returns the first job's id, which is how a repeat is told apart.
    const jobId = `c-${sha256Hex(key).slice(0, 24)}-${randomUUID().slice(0, 8)}`;
    return withinDeadline(async () => {
      const job = await this.queue.add(JOB_NAMES[QUEUES.primeroEvents], snapshot, { ...notificationJobOptions(key, this.retention), jobId });
      return job.id === jobId;
    }, this.enqueueTimeoutMs);
  }
}
