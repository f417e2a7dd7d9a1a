import { RapidProClient } from '../src/clients/rapidpro';
import type { Config } from '../src/config';
import { CASEWORKER_MESSAGE_QUEUES, type CaseworkerMessageQueue } from '../src/queues/names';
import { rapidProShares, spacedPerHour } from '../src/queues/rapidpro-quota';
import { buildPersonSenders } from '../src/replies/senders';
import { hasherFromConfig } from '../src/security/identifier-hash';
import { caseworkerMessageProcessor } from './caseworker-messages';
import type { Registration } from './registrations';

const always = () => true;

/**
 * One queue's caseworker messages. Every queue always runs: a note can be written on any gateway record, and one
 * whose channel cannot send still gets its outcome note. The queue passed to the processor is its own, so a
 * provider's configuration fault or Retry-After pauses that channel only.
 */
function caseworkerMessagesOn(name: CaseworkerMessageQueue, options: Registration['options']): Registration {
  return {
    queue: name,
    enabled: always,
    processor: (s, queue) => {
      const c = s.config;
      const rapidpro = c.RAPIDPRO_URL && c.RAPIDPRO_TOKEN ? new RapidProClient({ baseUrl: c.RAPIDPRO_URL, token: c.RAPIDPRO_TOKEN, timeoutMs: c.REPLY_TIMEOUT_MS, observe: s.observe('rapidpro') }) : null;
      const senderFor = buildPersonSenders({ config: c, redis: s.shared, hasher: hasherFromConfig(c), logger: s.logger, rapidpro });
      const { codec, contacts, primero, mappings, trace, counters, logger } = s;
      const common = { codec, contacts, primero, mappings, trace, counters, logger, queue, authFailurePauseMs: c.AUTH_FAILURE_PAUSE_MS };
      const linkSafe = async (reference: string) => (await s.references.get(reference))?.safeToContact ?? null;
      return caseworkerMessageProcessor({ ...common, ledger: s.caseworkerMessages.ledger, senderFor, subject: c.REPLY_NOTE_SUBJECT, sensitiveAllowed: c.REPLY_SENSITIVE_ALLOWED, linkSafe });
    },
    options,
  };
}

const perSecond = (c: Config) => ({ concurrency: c.REPLY_CONCURRENCY, limiter: { max: c.REPLY_RATE_PER_SECOND, duration: 1000 } });

/** RapidPro's queue draws on the workspace quota that flow-start notifications share (src/queues/rapidpro-quota.ts). */
export const CASEWORKER_REGISTRATIONS: readonly Registration[] = [
  caseworkerMessagesOn(CASEWORKER_MESSAGE_QUEUES.rapidpro, (c) => ({ concurrency: 1, limiter: spacedPerHour(rapidProShares(c.RAPIDPRO_RATE_PER_HOUR).replies) })),
  caseworkerMessagesOn(CASEWORKER_MESSAGE_QUEUES.whatsapp, perSecond),
  caseworkerMessagesOn(CASEWORKER_MESSAGE_QUEUES.twilio, perSecond),
  caseworkerMessagesOn(CASEWORKER_MESSAGE_QUEUES.africastalking, perSecond),
  caseworkerMessagesOn(CASEWORKER_MESSAGE_QUEUES.other, perSecond),
];
