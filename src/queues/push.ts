import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { PushNotice } from '../domain/push-texts';
import type { PushSubscriptionStore } from '../store/push-subscriptions';
import { notificationJobOptions, type JobRetention } from './job-defaults';
import { QUEUES } from './names';

/** One job per device: a 429 or a dead endpoint on one phone delays or drops that phone only. */
export interface PushJob {
  user: string;
  endpointHash: string;
  notice: PushNotice;
  reference: string | null;
}

export class PushProducer {
  readonly queue: Queue;

  constructor(
    redis: Redis,
    prefix: string,
    private readonly subscriptions: PushSubscriptionStore,
    private readonly retention: JobRetention,
  ) {
    this.queue = new Queue(QUEUES.push, { connection: redis, prefix });
    this.queue.on('error', () => undefined);
  }

  /** Queues the notice for every device the user enrolled; returns how many. */
  async notify(user: string, notice: PushNotice, key: string, reference: string | null): Promise<number> {
    const devices = await this.subscriptions.list(user);
    for (const d of devices) {
      const job: PushJob = { user, endpointHash: d.endpointHash, notice, reference };
      await this.queue.add('push', job, notificationJobOptions(`push:${key}:${d.endpointHash}`, this.retention));
    }
    return devices.length;
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
