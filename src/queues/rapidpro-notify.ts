import type { Queue } from 'bullmq';
import type { CommunityStatus } from '../domain/notification-plan';
import { sealContext, type PayloadCodec } from '../security/payload-codec';
import { notificationJobOptions, type JobRetention } from './job-defaults';
import { JOB_NAMES, SEALED_FIELDS } from './jobs';
import { QUEUES } from './names';

/** The URN is sealed with DATA_KEY; params carry the reference and a status word, nothing else. */
export interface FlowStartJob {
  urn: string;
  reference: string;
  status: CommunityStatus;
}

export class RapidProNotifyProducer {
  constructor(
    private readonly queue: Queue,
    private readonly codec: PayloadCodec,
    private readonly retention: JobRetention,
  ) {}

  async notify(start: FlowStartJob, key: string): Promise<void> {
    await this.queue.add(JOB_NAMES[QUEUES.rapidproNotify], this.codec.encode({ ...start }, [...SEALED_FIELDS[QUEUES.rapidproNotify]], sealContext.job(this.queue.name)), notificationJobOptions(`flow:${key}`, this.retention));
  }
}
