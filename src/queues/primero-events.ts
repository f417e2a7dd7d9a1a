import type { Queue } from 'bullmq';
import type { RecordLook } from '../domain/record-events';
import { sealContext, type PayloadCodec } from '../security/payload-codec';
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
    /** Seals the look's safe-to-contact answers (a "not safe" hints at abuse): no copy of Redis shows them. */
    private readonly codec: PayloadCodec,
  ) {}

  /** Returns false when this change was already queued (a duplicate webhook, or the poller saw it first). */
  async submit(snapshot: RecordLook): Promise<boolean> {
    const key = entry.dedupeKey(snapshot);
    const jobId = entry.jobId(key);
    return withinDeadline(async () => {
      const data = this.codec.encode({ ...snapshot }, [...entry.sealed], sealContext.job(this.queue.name));
      const job = await this.queue.add(entry.name, data, entry.options(key, this.retention, jobId));
      return job.id === jobId;
    }, this.enqueueTimeoutMs);
  }
}
