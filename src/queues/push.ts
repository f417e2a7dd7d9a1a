import type { Queue } from 'bullmq';
import type { PushNotice } from '../domain/push-texts';
import type { PushSubscriptionStore } from '../store/push-subscriptions';
import { notificationJobOptions, type JobRetention } from './job-defaults';
import { JOB_NAMES } from './jobs';
import { QUEUES } from './names';

/** One job per device: a 429 or a dead endpoint on one phone delays or drops that phone only. */
export interface PushJob {
  user: string;
  endpointHash: string;
  notice: PushNotice;
  reference: string | null;
}

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
      const job: PushJob = { user, endpointHash: d.endpointHash, notice, reference };
      await this.queue.add(JOB_NAMES[QUEUES.push], job, notificationJobOptions(`push:${key}:${d.endpointHash}`, this.retention));
    }
    return devices.length;
  }
}
