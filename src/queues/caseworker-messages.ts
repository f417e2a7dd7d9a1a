import type { Queue } from 'bullmq';
import { sealContext, type PayloadCodec } from '../security/payload-codec';
import { JOBS, type JobData, type JobRetention } from './jobs';
import { caseworkerQueueFor, QUEUES, type CaseworkerMessageQueue } from './names';

const entry = JOBS[QUEUES.caseworkerMessages];

export type CaseworkerMessageJob = JobData<typeof QUEUES.caseworkerMessages>;

/**
 * Queues a caseworker's note for sending, in its record channel's own queue. Detection re-reads a record's notes at
 * every change, so the same note arrives here many times: deduplication only spares the queue, the worker's ledger
 * decides what is sent.
 */
export class CaseworkerMessageProducer {
  constructor(
    private readonly queueOf: (name: CaseworkerMessageQueue) => Queue,
    private readonly codec: PayloadCodec,
    private readonly retention: JobRetention,
  ) {}

  async enqueue(message: CaseworkerMessageJob): Promise<void> {
    const queue = this.queueOf(caseworkerQueueFor(message.channel));
    const key = entry.dedupeKey(message.recordId, message.noteId);
    await queue.add(entry.name, this.codec.encode({ ...message }, [...entry.sealed], sealContext.job(queue.name)), entry.options(key, this.retention));
  }
}
