import type { Queue } from 'bullmq';
import type { RecordLook } from '../domain/record-events';
import { withinDeadline } from './deadline';
import { JOBS, type JobRetention } from './jobs';
import { QUEUES } from './names';

const entry = JOBS[QUEUES.primeroEvents];

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
    const key = entry.dedupeKey(snapshot);
    const jobId = entry.jobId(key);
    return withinDeadline(async () => {
      const job = await this.queue.add(entry.name, snapshot, entry.options(key, this.retention, jobId));
      return job.id === jobId;
    }, this.enqueueTimeoutMs);
  }
}
