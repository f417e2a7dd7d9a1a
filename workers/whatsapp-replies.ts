import type { Job, Queue } from 'bullmq';
import type { WhatsAppClient } from '../src/channels/whatsapp/reply-sender';
import type { Logger } from '../src/logger';
import type { JobData } from '../src/queues/jobs';
import type { ContactStore } from '../src/store/contacts';
import type { PayloadCodec } from '../src/security/payload-codec';
import { openJob } from '../src/queues/open-job';
import type { TraceStore } from '../src/store/trace';
import { rethrowForQueue } from '../src/queues/failure-policy';

export interface WhatsAppReplyDeps {
  client: WhatsAppClient;
  codec: PayloadCodec;
  trace: TraceStore;
  contacts: ContactStore;
  logger: Logger;
  queue: Queue;
  authFailurePauseMs: number;
}

/** Sends one acknowledgement; an opt-out recorded after the reply was queued still wins. */
export function whatsappReplyProcessor(deps: WhatsAppReplyDeps) {
  return async (job: Job<JobData<'whatsapp-replies'>>): Promise<string> => {
    const { waId, text, reference } = openJob(deps.codec, job);
    if (await deps.contacts.isOptedOut(`whatsapp:${waId}`)) {
      deps.logger.info({ reference, queue: job.queueName }, 'reply skipped: the sender opted out');
      return 'skipped-opted-out';
    }
    try {
      await deps.client.sendText(waId, text);
    } catch (err) {
      return rethrowForQueue(err, deps.queue, deps.logger, deps.authFailurePauseMs);
    }
    deps.logger.info({ reference, queue: job.queueName }, 'reply sent');
    if (reference) await deps.trace.record(reference, 'acknowledgement_sent', { channel: 'whatsapp' });
    return 'sent';
  };
}
