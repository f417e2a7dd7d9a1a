import path from 'node:path';
import type { RedisConnection } from './queues/connection';
import { buildApiServices, type ApiServices } from './api-services';
import { PrimeroClient } from './clients/primero';
import type { Config } from './config';
import type { WhatsAppInbound } from './channels/whatsapp/parse';
import { acceptWhatsAppMessage } from './channels/whatsapp/store-message';
import { loadKeywordTable } from './keyword-table';
import type { Logger } from './logger';
import type { MappingSet } from './mappings';
import { buildNotificationServices, type NotificationServices } from './notifications/services';
import { createRedis } from './queues/connection';
import { recordPausesOf } from './queues/failure-policy';
import { CaseworkerMessageProducer } from './queues/caseworker-messages';
import { QueueRegistry } from './queues/registry';
import { codecFromConfig } from './security/codec-from-config';
import { hasherFromConfig } from './security/identifier-hash';
import type { PayloadCodec } from './security/payload-codec';
import { CaseworkerMessageLedger } from './store/caseworker-messages';
import { ContactStore } from './store/contacts';
import { DESTINATION_QUEUES, DestinationStatusStore } from './store/destination-status';
import { SharedCounters } from './store/counters';
import { ReferenceStore } from './store/references';
import { SendClaims } from './store/send-claims';
import { SnapshotStore } from './store/snapshots';
import { TraceStore } from './store/trace';

/** What every worker of one process shares: one Redis connection for stores and queue handles, one Primero client. */
export interface WorkerServices {
  config: Config;
  logger: Logger;
  mappings: MappingSet;
  shared: RedisConnection;
  codec: PayloadCodec;
  references: ReferenceStore;
  contacts: ContactStore;
  trace: TraceStore;
  counters: SharedCounters;
  snapshots: SnapshotStore;
  queues: QueueRegistry;
  notifications: NotificationServices;
  primero: PrimeroClient;
  /** Caseworkers' notes to the person: the queue they wait in and the ledger that keeps each to one send. */
  caseworkerMessages: { producer: CaseworkerMessageProducer; ledger: CaseworkerMessageLedger };
  /** Acknowledgements, STATUS answers and status flow starts: the claims that keep each to one send. */
  sendClaims: SendClaims;
  /** Counts an outbound call's answer under the destination's name. */
  observe(service: string): (status: string) => void;
  /** Stores a replayed WhatsApp message through the same intake as the webhook route's. */
  storeReplayed(message: WhatsAppInbound): Promise<void>;
  /** Closes the queue handles and the intake side built for replays; the connection is the caller's to quit. */
  close(): Promise<void>;
}

export function buildWorkerServices(config: Config, logger: Logger, mappings: MappingSet): WorkerServices {
  const shared = createRedis(config, 'worker', { lazyConnect: false });
  shared.on('error', () => undefined);
  const codec = codecFromConfig(config);
  const contacts = new ContactStore(shared, config.QUEUE_PREFIX, hasherFromConfig(config), codec);
  const trace = new TraceStore(shared, config.QUEUE_PREFIX, config.REFERENCE_RETENTION_DAYS);
  const counters = new SharedCounters(shared, config.QUEUE_PREFIX);
  const queues = new QueueRegistry(shared, config.QUEUE_PREFIX, (err, queue) => logger.warn({ err, queue }, 'queue connection error'));
  const pauses = new DestinationStatusStore(shared, config.QUEUE_PREFIX);
  for (const name of Object.values(DESTINATION_QUEUES).flat()) recordPausesOf(queues.get(name), pauses);
  const observe = (service: string) => (status: string) => counters.increment('gateway_outbound_calls_total', { service, status });
  // Built on first need only: a replayed unreadable message is rare, and this worker may lack the API's settings.
  let intakeSide: ApiServices | null = null;
  return {
    config,
    logger,
    mappings,
    shared,
    codec,
    references: new ReferenceStore(shared, config.QUEUE_PREFIX, config.REFERENCE_RETENTION_DAYS, codec),
    contacts,
    trace,
    counters,
    snapshots: new SnapshotStore(shared, config.QUEUE_PREFIX, config.REFERENCE_RETENTION_DAYS, (config.NOTIFICATION_DEDUPE_DAYS * 86_400) / 2),
    queues,
    notifications: buildNotificationServices(config, shared, queues, codec, contacts, trace, logger),
    primero: new PrimeroClient({ baseUrl: config.PRIMERO_URL, user: config.PRIMERO_USER, password: config.PRIMERO_PASSWORD, timeoutMs: config.PRIMERO_TIMEOUT_MS, observe: observe('primero') }),
    caseworkerMessages: {
      producer: new CaseworkerMessageProducer((name) => queues.get(name), codec, { attempts: config.REPLY_ATTEMPTS, dedupeWindowMs: config.NOTIFICATION_DEDUPE_DAYS * 86_400_000 }),
      ledger: new CaseworkerMessageLedger(shared, config.QUEUE_PREFIX, config.REFERENCE_RETENTION_DAYS),
    },
    sendClaims: new SendClaims(shared),
    observe,
    storeReplayed(message) {
      if (!intakeSide) {
        const keywords = loadKeywordTable(config.KEYWORDS_FILE ?? path.join(config.MAPPING_DIR, 'keywords.json'));
        intakeSide = buildApiServices(config, shared, logger, keywords, mappings);
      }
      // A replayed dead letter needs no outcome.
      return acceptWhatsAppMessage(intakeSide.providerMessages, intakeSide.whatsappReplies, message).then(() => undefined);
    },
    async close() {
      await queues.close();
      if (intakeSide) await intakeSide.close();
    },
  };
}
