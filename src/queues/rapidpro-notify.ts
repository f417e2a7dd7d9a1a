import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { CommunityStatus } from '../domain/notification-plan';
import type { PayloadCodec } from '../security/payload-codec';
import { notificationJobOptions, type JobRetention } from './job-defaults';
import { QUEUES } from './names';

/** The URN is sealed with DATA_KEY; params carry the reference and a status word, nothing else. */
export interface FlowStartJob {
  urn: string;
  reference: string;
  status: CommunityStatus;
}

export class RapidProNotifyProducer {
  readonly queue: Queue;

  constructor(
    redis: Redis,
    prefix: string,
    private readonly codec: PayloadCodec,
    private readonly retention: JobRetention,
  ) {
    this.queue = new Queue(QUEUES.rapidproNotify, { connection: redis, prefix });
    this.queue.on('error', () => undefined);
  }

  async notify(start: FlowStartJob, key: string): Promise<void> {
    await this.queue.add('flow-start', this.codec.encode({ ...start }, ['urn']), notificationJobOptions(`flow:${key}`, this.retention));
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
