import type { RedisConnection } from './queues/connection';
import { GatewayMetrics } from './http/metrics';
import { buildNotificationServices, pushEnabled, type NotificationServices } from './notifications/services';
import { buildOperatorServices, type OperatorServices } from './operator-services';
import { SharedCounters } from './store/counters';
import { QUEUES } from './queues/names';
import type { Config } from './config';
import { keywordClassifier, type KeywordTable } from './domain/keywords';
import { ProviderMessageAcceptor } from './intake/provider-messages';
import { IntakeService } from './intake/intake-service';
import type { MappingSet } from './mappings';
import type { Logger } from './logger';
import { IntakeProducer } from './queues/intake';
import { replicaAcknowledgement } from './queues/replica-ack';
import { AcceptanceLedger } from './store/acceptances';
import { WhatsAppReplyProducer } from './queues/whatsapp-replies';
import { AfricasTalkingReplyProducer } from './queues/africastalking-replies';
import { WhatsAppUnreadableProducer } from './queues/whatsapp-unreadable';
import { SenderRecords } from './cases/sender-records';
import { SnapshotStore } from './store/snapshots';
import { WhatsAppWindowStore } from './store/whatsapp-windows';
import type { ContactStore } from './store/contacts';

/** Everything the HTTP side writes to, built once per process from the configuration. */
export interface ApiServices extends OperatorServices {
  intake: IntakeService;
  producer: IntakeProducer;
  providerMessages: ProviderMessageAcceptor;
  whatsappReplies: WhatsAppReplyProducer | null;
  whatsappUnreadable: WhatsAppUnreadableProducer;
  /** Acknowledgements to Africa's Talking senders, sent as SMS; null while its send settings are unset. */
  africasTalkingReplies: AfricasTalkingReplyProducer | null;
  /** Each WhatsApp sender's 24-hour window, opened at every inbound message (caseworker messages read it). */
  whatsappWindows: WhatsAppWindowStore;
  metrics: GatewayMetrics;
  notifications: NotificationServices;
  /** A sender's own records (follow-ups, STATUS). */
  senderRecords: SenderRecords;
  /** The mappings' "safe to contact" fields, as the mappings are now: a Primero webhook body's are kept with its look. */
  safeToContactFields: () => string[];
  close(): Promise<void>;
}

/** The intake every channel hands messages to, with where a follow-up finds the sender's open records. */
function buildIntake(config: Config, producer: IntakeProducer, contacts: ContactStore, mappings: MappingSet, senderRecords: SenderRecords, logger: Logger): IntakeService {
  return new IntakeService(producer, contacts, mappings, {
    prefix: config.QUEUE_PREFIX,
    enqueueTimeoutMs: config.ENQUEUE_TIMEOUT_MS,
    sensitiveCategories: new Set(config.SENSITIVE_CATEGORIES),
    feedbackMergeWindowSeconds: config.FEEDBACK_MERGE_WINDOW_SECONDS,
  }, {
    records: senderRecords,
    rules: { windowDays: config.FOLLOW_UP_WINDOW_DAYS, gatewayUser: config.PRIMERO_USER },
    lookupFailed: (error) => logger.warn({ error }, "the sender's open records could not be read: the message is stored as a referral"),
  });
}

export function buildApiServices(config: Config, redis: RedisConnection, logger: Logger, keywords: KeywordTable, mappings: MappingSet): ApiServices {
  const operator = buildOperatorServices(config, redis);
  const { codec, hasher, references, contacts } = operator;
  const counters = new SharedCounters(redis, config.QUEUE_PREFIX);
  const producer = new IntakeProducer(operator.registry.get(QUEUES.intake), references, codec, hasher, {
    attempts: config.INTAKE_ATTEMPTS,
    completedRetentionSeconds: config.COMPLETED_JOB_RETENTION_SECONDS,
    enqueueTimeoutMs: config.ENQUEUE_TIMEOUT_MS,
    replicaAck: replicaAcknowledgement(redis, config.QUEUE_PREFIX, config.REDIS_MIN_REPLICAS_ACK, config.REDIS_REPLICA_ACK_TIMEOUT_MS),
  }, new AcceptanceLedger(redis, config.QUEUE_PREFIX, config.IDEMPOTENCY_WINDOW_HOURS * 3600), counters);
  const senderRecords = new SenderRecords(contacts.references, (sender) => contacts.identityHashes(sender), references, new SnapshotStore(redis, config.QUEUE_PREFIX, config.REFERENCE_RETENTION_DAYS));
  const intake = buildIntake(config, producer, contacts, mappings, senderRecords, logger);
  const whatsappReplies = config.WHATSAPP_ACCESS_TOKEN
    ? new WhatsAppReplyProducer(operator.registry.get(QUEUES.whatsappReplies), codec, hasher, {
        attempts: config.REPLY_ATTEMPTS,
        idempotencyWindowMs: config.IDEMPOTENCY_WINDOW_HOURS * 3600_000,
        enqueueTimeoutMs: config.ENQUEUE_TIMEOUT_MS,
      })
    : null;
  const whatsappUnreadable = new WhatsAppUnreadableProducer(operator.registry.get(QUEUES.whatsappUnreadable), codec, hasher, {
    idempotencyWindowMs: config.IDEMPOTENCY_WINDOW_HOURS * 3600_000,
    enqueueTimeoutMs: config.ENQUEUE_TIMEOUT_MS,
  });
  const providerMessages = new ProviderMessageAcceptor(
    intake,
    contacts,
    keywordClassifier(keywords),
    keywords,
    {
      enqueueTimeoutMs: config.ENQUEUE_TIMEOUT_MS,
      rateLimit: config.SENDER_RATE_LIMIT,
      rateWindowSeconds: config.SENDER_RATE_WINDOW_SECONDS,
      ownAddresses: new Set(config.OWN_ADDRESSES),
      gatewayUser: config.PRIMERO_USER,
    },
    logger,
    senderRecords,
  );
  const notifications = buildNotificationServices(config, redis, operator.registry, codec, contacts, operator.trace, logger);
  const metrics = new GatewayMetrics(operator.queues, counters, pushEnabled(config) ? notifications.subscriptions : null, operator.overview, logger);
  return {
    ...operator,
    senderRecords,
    safeToContactFields: () => [...new Set([...mappings.values()].flatMap((m) => (m.safe_to_contact_field ? [m.safe_to_contact_field] : [])))],
    metrics,
    notifications,
    intake,
    producer,
    providerMessages,
    whatsappReplies,
    whatsappUnreadable,
    africasTalkingReplies: AfricasTalkingReplyProducer.fromConfig(config, operator.registry, codec, hasher),
    whatsappWindows: new WhatsAppWindowStore(redis, config.QUEUE_PREFIX, hasher),
    async close() {
      await operator.registry.close();
    },
  };
}
