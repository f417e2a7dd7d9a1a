import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { DeadLetters } from './admin/dead-letters';
import { ForgetContact } from './admin/forget';
import { GatewayMetrics } from './http/metrics';
import { QUEUES } from './queues/names';
import type { PayloadCodec } from './security/payload-codec';
import { AuditLog } from './store/audit';
import { SharedCounters } from './store/counters';
import { TraceStore } from './store/trace';
import type { Config } from './config';
import { keywordClassifier, type KeywordTable } from './domain/keywords';
import { DirectIntake } from './intake/direct-messages';
import { IntakeService } from './intake/intake-service';
import type { MappingSet } from './mappings';
import type { Logger } from './logger';
import { IntakeProducer } from './queues/intake';
import { WhatsAppReplyProducer } from './queues/whatsapp-replies';
import { ContactStore } from './store/contacts';
import { ReferenceStore } from './store/references';
import { codecFromConfig } from './security/codec-from-config';

/** Everything the HTTP side writes to, built once per process from the configuration. */
export interface ApiServices {
  intake: IntakeService;
  producer: IntakeProducer;
  direct: DirectIntake;
  contacts: ContactStore;
  references: ReferenceStore;
  whatsappReplies: WhatsAppReplyProducer | null;
  /** Every gateway queue, for the operator's views (dead letters, dashboard, metrics). */
  queues: Queue[];
  codec: PayloadCodec;
  trace: TraceStore;
  audit: AuditLog;
  deadLetters: DeadLetters;
  forget: ForgetContact;
  metrics: GatewayMetrics;
  close(): Promise<void>;
}

export function buildApiServices(config: Config, redis: Redis, logger: Logger, keywords: KeywordTable, mappings: MappingSet): ApiServices {
  const codec = codecFromConfig(config);
  const references = new ReferenceStore(redis, config.QUEUE_PREFIX, config.REFERENCE_RETENTION_DAYS, codec);
  const contacts = new ContactStore(redis, config.QUEUE_PREFIX);
  const producer = new IntakeProducer(redis, references, codec, {
    prefix: config.QUEUE_PREFIX,
    attempts: config.INTAKE_ATTEMPTS,
    idempotencyWindowMs: config.IDEMPOTENCY_WINDOW_HOURS * 3600_000,
    completedRetentionSeconds: config.COMPLETED_JOB_RETENTION_SECONDS,
    deadLetterRetentionDays: config.DEAD_LETTER_RETENTION_DAYS,
    enqueueTimeoutMs: config.ENQUEUE_TIMEOUT_MS,
  });
  const intake = new IntakeService(producer, contacts, mappings, {
    prefix: config.QUEUE_PREFIX,
    enqueueTimeoutMs: config.ENQUEUE_TIMEOUT_MS,
    sensitiveCategories: new Set(config.SENSITIVE_CATEGORIES),
    feedbackMergeWindowSeconds: config.FEEDBACK_MERGE_WINDOW_SECONDS,
  });
  const whatsappReplies = config.WHATSAPP_ACCESS_TOKEN
    ? new WhatsAppReplyProducer(redis, codec, {
        prefix: config.QUEUE_PREFIX,
        attempts: config.REPLY_ATTEMPTS,
        idempotencyWindowMs: config.IDEMPOTENCY_WINDOW_HOURS * 3600_000,
        deadLetterRetentionDays: config.DEAD_LETTER_RETENTION_DAYS,
        enqueueTimeoutMs: config.ENQUEUE_TIMEOUT_MS,
      })
    : null;
  const direct = new DirectIntake(
    intake,
    contacts,
    keywordClassifier(keywords),
    keywords,
    { enqueueTimeoutMs: config.ENQUEUE_TIMEOUT_MS, rateLimit: config.SENDER_RATE_LIMIT, rateWindowSeconds: config.SENDER_RATE_WINDOW_SECONDS, ownAddresses: new Set(config.OWN_ADDRESSES) },
    logger,
  );
  const queues = Object.values(QUEUES).map((name) => {
    const q = new Queue(name, { connection: redis, prefix: config.QUEUE_PREFIX });
    q.on('error', () => undefined);
    return q;
  });
  const trace = new TraceStore(redis, config.QUEUE_PREFIX, config.REFERENCE_RETENTION_DAYS);
  const audit = new AuditLog(redis, config.QUEUE_PREFIX);
  const deadLetters = new DeadLetters(queues, codec, audit, trace);
  const forget = new ForgetContact(queues, codec, contacts, references, trace, audit);
  const metrics = new GatewayMetrics(queues, new SharedCounters(redis, config.QUEUE_PREFIX));
  return {
    queues,
    codec,
    trace,
    audit,
    deadLetters,
    forget,
    metrics,
    intake,
    producer,
    direct,
    contacts,
    references,
    whatsappReplies,
    async close() {
      await producer.close();
      await Promise.all(queues.map((q) => q.close()));
      await whatsappReplies?.close();
    },
  };
}
