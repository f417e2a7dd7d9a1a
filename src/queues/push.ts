import type { Queue } from 'bullmq';
import type { PushNotice } from '../domain/push-texts';
import type { PushSubscriptionStore } from '../store/push-subscriptions';
import { JOBS, type JobData, type JobRetention } from './jobs';
import { QUEUES } from './names';

const entry = JOBS[QUEUES.push];

export class PushProducer {
  constructor(
    private readonly queue: Queue,
    private readonly subscriptions: PushSubscriptionStore,
    private readonly retention: JobRetention,
  ) {}

  /** Queues the notice for every device the user enrolled; returns how many. */
  async notify(user: string, notice: PushNotice, key: string, reference: string | null): Promise<number> {
    const devices = await this.subscriptions.list(user);
    for (const d of devices) {
      const job: JobData<typeof QUEUES.push> = { user, endpointHash: d.endpointHash, notice, reference };
      await this.queue.add(entry.name, job, entry.options(entry.dedupeKey(key, d.endpointHash), this.retention));
    }
    return devices.length;
  }
}
