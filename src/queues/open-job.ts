import { UnrecoverableError, type Job } from 'bullmq';
import { sealContext, type PayloadCodec } from '../security/payload-codec';

/**
 * A job's payload, opened. One that no configured key opens (sealed under a removed DATA_KEY, or damaged)
 * will not open on a retry either: it becomes a dead letter at once, with the reason, for an operator.
 */
export function openJob(codec: PayloadCodec, job: Job): Record<string, unknown> {
  try {
    return codec.decode(job.data, sealContext.job(job.queueName));
  } catch (err) {
    throw new UnrecoverableError(`the stored payload cannot be opened: ${(err as Error).message}`);
  }
}
