import { UnrecoverableError, type Job } from 'bullmq';
import { readWhatsAppMessage, readWhatsAppWebhook, type WhatsAppBatch, type WhatsAppInbound } from '../src/channels/whatsapp/parse';
import type { Logger } from '../src/logger';
import type { JobData } from '../src/queues/jobs';
import type { PayloadCodec } from '../src/security/payload-codec';
import { openJob } from '../src/queues/open-job';

export interface WhatsAppUnreadableDeps {
  codec: PayloadCodec;
  /** Stores a message that reads now, exactly as the webhook route would have. */
  store: (m: WhatsAppInbound) => Promise<void>;
  logger: Logger;
}

function fromOne(read: ReturnType<typeof readWhatsAppMessage>): WhatsAppBatch {
  if (read.kind === 'message') return { messages: [read.message], sources: [null], unreadable: [] };
  return { messages: [], sources: [], unreadable: read.kind === 'unreadable' ? [{ wamid: null, reason: read.reason, message: null }] : [] };
}

/**
 * Reads a kept WhatsApp message again with today's parser. Still unreadable: fail at once, so it stays a dead
 * letter with its reason. Readable (a replay after a fix): it becomes a message like any other.
 */
export function whatsappUnreadableProcessor(deps: WhatsAppUnreadableDeps) {
  return async (job: Job<JobData<'whatsapp-unreadable'>>): Promise<string> => {
    const { text } = openJob(deps.codec, job);
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      throw new UnrecoverableError('kept WhatsApp message is not JSON');
    }
    // The time Meta gave is in the message; the job's own time stands in only when it has none.
    const at = new Date(job.timestamp);
    // A whole body was kept when its envelope did not read; otherwise one message.
    const isBody = !!raw && typeof raw === 'object' && 'object' in raw;
    const batch = isBody ? readWhatsAppWebhook(raw, at) : fromOne(readWhatsAppMessage(raw, at));
    const [first, ...more] = batch.unreadable;
    if (first) throw new UnrecoverableError(more.length ? `${more.length + 1} unreadable WhatsApp messages in one body (first: ${first.reason})` : first.reason);
    for (const m of batch.messages) await deps.store(m);
    deps.logger.info({ queue: job.queueName, jobId: job.id, stored: batch.messages.length }, 'kept WhatsApp message read again');
    return batch.messages.length ? 'stored' : 'skipped';
  };
}
