import type { Job, Queue } from 'bullmq';
import type { WhatsAppClient } from '../src/channels/whatsapp/reply-sender';
import type { Logger } from '../src/logger';
import type { JobData } from '../src/queues/jobs';
import type { ContactStore } from '../src/store/contacts';
import type { PayloadCodec } from '../src/security/payload-codec';
import { openJob } from '../src/queues/open-job';
import { rethrowForQueue } from '../src/queues/failure-policy';
import { optOutAllows } from '../src/replies/opt-out-gate';
import { heldBackReply, type ReplyGateDeps } from '../src/replies/held-back-reply';
import { providerCall } from '../src/replies/person-sender';
import { sendOnce, type SendOnceDeps } from '../src/replies/send-once';

export interface WhatsAppReplyDeps extends SendOnceDeps, ReplyGateDeps {
  client: WhatsAppClient;
  codec: PayloadCodec;
  contacts: ContactStore;
  logger: Logger;
  queue: Queue;
  authFailurePauseMs: number;
}

/**
 * Sends one acknowledgement, at most once (sendOnce): a timeout, or a worker that died mid-send, may have reached the
 * person, and ends as a dead letter "not confirmed" that a replay does not send. An opt-out recorded after the reply
 * was queued still wins, and so does what was said since about the record it names (heldBackReply).
 */
export function whatsappReplyProcessor(deps: WhatsAppReplyDeps) {
  return async (job: Job<JobData<'whatsapp-replies'>>): Promise<string> => {
    const { waId, text, reference, sensitive, answers } = openJob(deps.codec, job);
    if (!(await optOutAllows(deps.contacts, `whatsapp:${waId}`, { reference, answers }, 'checked'))) {
      deps.logger.info({ reference, queue: job.queueName }, "reply skipped: the sender's opt-out says no");
      return 'skipped-opted-out';
    }
    const held = await heldBackReply(deps, job.queueName, { reference, sensitive, queuedAt: job.timestamp });
    if (held) return held;
    let result;
    try {
      result = await sendOnce(deps, job, reference, () => providerCall('WhatsApp', () => deps.client.sendText(waId, text)));
    } catch (err) {
      return rethrowForQueue(err, deps.queue, deps.logger, deps.authFailurePauseMs);
    }
    if (result !== 'sent') return result;
    deps.logger.info({ reference, queue: job.queueName }, 'reply sent');
    // Best effort: a trace that fails must not fail the job.
    if (reference) await deps.trace.record(reference, 'acknowledgement_sent', { channel: 'whatsapp' }).catch(() => undefined);
    return 'sent';
  };
}
