import { UnrecoverableError, type Job, type Queue } from 'bullmq';
import { DeliveryError } from '../src/clients/delivery-error';
import type { Logger } from '../src/logger';
import type { AfricasTalkingReplyJob } from '../src/queues/africastalking-replies';
import { rethrowForQueue } from '../src/queues/failure-policy';
import { openJob } from '../src/queues/open-job';
import type { PersonSender } from '../src/replies/person-sender';
import type { PayloadCodec } from '../src/security/payload-codec';
import type { ContactStore } from '../src/store/contacts';
import type { TraceStore } from '../src/store/trace';

export interface AfricasTalkingReplyDeps {
  /** The Africa's Talking person sender: its request and its reading of the answer are the caseworker messages' own. */
  sender: PersonSender;
  codec: PayloadCodec;
  trace: TraceStore;
  contacts: ContactStore;
  logger: Logger;
  queue: Queue;
  authFailurePauseMs: number;
}

/**
 * A send that failed. Only a refusal or a connection never made proves no SMS went out; a timeout, a reset or an
 * answer we cannot read may have reached the person, and an acknowledgement is never sent twice: that one is kept
 * as a dead letter saying so, not retried.
 */
async function failedSend(deps: AfricasTalkingReplyDeps, job: Job, reference: string | null, err: unknown): Promise<never> {
  if (err instanceof DeliveryError && err.hint?.is === 'maybe_sent') {
    deps.logger.warn({ reference, queue: job.queueName, status: err.status }, "reply not confirmed: Africa's Talking may have sent it, so it is not sent again");
    throw new UnrecoverableError(`not sent again, it may have gone out: ${err.message}`);
  }
  return rethrowForQueue(err, deps.queue, deps.logger, deps.authFailurePauseMs);
}

/** Sends one acknowledgement (or STATUS answer) by SMS; an opt-out recorded after it was queued still wins. */
export function africasTalkingReplyProcessor(deps: AfricasTalkingReplyDeps) {
  return async (job: Job<AfricasTalkingReplyJob>): Promise<string> => {
    const { urn, text, reference } = openJob(deps.codec, job);
    // A reply without a reference answers STOP or START: STOP's confirmation goes to the person who just opted out.
    if (reference !== null && (await deps.contacts.isOptedOut(urn))) {
      deps.logger.info({ reference, queue: job.queueName }, 'reply skipped: the sender opted out');
      return 'skipped-opted-out';
    }
    try {
      await deps.sender.send({ urn, contactUuid: null, text, language: null, reference: reference ?? '' });
    } catch (err) {
      return failedSend(deps, job, reference, err);
    }
    deps.logger.info({ reference, queue: job.queueName }, 'reply sent');
    // Best effort: a trace that fails must not fail the job, whose retry would send the SMS again.
    if (reference) await deps.trace.record(reference, 'acknowledgement_sent', { channel: 'africastalking' }).catch(() => undefined);
    return 'sent';
  };
}
