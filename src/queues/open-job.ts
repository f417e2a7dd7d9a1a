import { UnrecoverableError, type Job } from 'bullmq';
import { sealContext, type PayloadCodec } from '../security/payload-codec';

/**
 * A job's payload, opened, as its queue's catalogue entry types it (`Job<JobData<Q>>` gives `JobData<Q>`). One
 * that no configured key opens (sealed under a removed DATA_KEY, or damaged) will not open on a retry either:
 * it becomes a dead letter at once, with the reason, for an operator.
 */
export function openJob<Data>(codec: PayloadCodec, job: Job<Data>): Data {
  try {
    // The one cast of a job's data: the codec returns the record its producer encoded from the catalogue type.
    // Not parsed here: a malformed job must fail where and how it always did (intake checks its own schema).
    return codec.decode(job.data, sealContext.job(job.queueName)) as Data;
  } catch (err) {
    throw new UnrecoverableError(`the stored payload cannot be opened: ${(err as Error).message}`);
  }
}
