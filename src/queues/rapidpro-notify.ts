import type { Queue } from 'bullmq';
import { sealContext, type PayloadCodec } from '../security/payload-codec';
import { JOBS, type JobData, type JobRetention } from './jobs';
import { QUEUES } from './names';

const entry = JOBS[QUEUES.rapidproNotify];

export class RapidProNotifyProducer {
  constructor(
    private readonly queue: Queue,
    private readonly codec: PayloadCodec,
    private readonly retention: JobRetention,
  ) {}

  async notify(start: JobData<typeof QUEUES.rapidproNotify>, key: string): Promise<void> {
    await this.queue.add(entry.name, this.codec.encode({ ...start }, [...entry.sealed], sealContext.job(this.queue.name)), entry.options(entry.dedupeKey(key), this.retention));
  }
}
