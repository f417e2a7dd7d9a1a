import type { Job, Queue } from 'bullmq';
import type { Logger } from '../src/logger';
import type { AfricasTalkingReplyJob } from '../src/queues/africastalking-replies';
import { rethrowForQueue } from '../src/queues/failure-policy';
import { openJob } from '../src/queues/open-job';
import { optOutAllows } from '../src/replies/opt-out-gate';
import { heldBackReply, type ReplyGateDeps } from '../src/replies/held-back-reply';
import type { PersonSender } from '../src/replies/person-sender';
import { sendOnce, type SendOnceDeps } from '../src/replies/send-once';
import type { PayloadCodec } from '../src/security/payload-codec';
import type { ContactStore } from '../src/store/contacts';

export interface AfricasTalkingReplyDeps extends SendOnceDeps, ReplyGateDeps {
  /** The Africa's Talking person sender: its request and its reading of the answer are the caseworker messages' own. */
  sender: PersonSender;
  codec: PayloadCodec;
  contacts: ContactStore;
  logger: Logger;
  queue: Queue;
  authFailurePauseMs: number;
}

/**
 * Sends one acknowledgement (or STATUS answer) by SMS; an opt-out recorded after it was queued still wins, and so
 * does what was said since about the record it names (heldBackReply). It goes
 * out at most once (sendOnce): a timeout, a reset or an answer we cannot read may have reached the person, and so
 * may an attempt that died mid-send; those end as a dead letter saying "not confirmed", and its replay sends nothing.
 */
export function africasTalkingReplyProcessor(deps: AfricasTalkingReplyDeps) {
  return async (job: Job<AfricasTalkingReplyJob>): Promise<string> => {
    const { urn, text, reference, sensitive, answers } = openJob(deps.codec, job);
    if (!(await optOutAllows(deps.contacts, urn, { reference, answers }, 'sent'))) {
      deps.logger.info({ reference, queue: job.queueName }, "reply skipped: the sender's opt-out says no");
      return 'skipped-opted-out';
    }
    const held = await heldBackReply(deps, job.queueName, { reference, sensitive, queuedAt: job.timestamp });
    if (held) return held;
    let result;
    try {
      result = await sendOnce(deps, job, reference, () => deps.sender.send({ urn, contactUuid: null, text, language: null, reference: reference ?? '' }));
    } catch (err) {
      return rethrowForQueue(err, deps.queue, deps.logger, deps.authFailurePauseMs);
    }
    if (result !== 'sent') return result;
    deps.logger.info({ reference, queue: job.queueName }, 'reply sent');
    // Best effort: a trace that fails must not fail the job.
    if (reference) await deps.trace.record(reference, 'acknowledgement_sent', { channel: 'africastalking' }).catch(() => undefined);
    return 'sent';
  };
}
