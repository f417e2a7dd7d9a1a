import { SendClaims } from './store/send-claims';
import type { Queue } from 'bullmq';
import type { RedisConnection } from './queues/connection';
import { DeadLetters } from './admin/dead-letters';
import { ForgetContact } from './admin/forget';
import { OverviewService } from './admin/overview';
import type { DestinationConfig } from './admin/overview-destinations';
import type { OverviewReader } from './admin/overview-types';
import { Reseal } from './admin/reseal';
import type { Config } from './config';
import { QueueRegistry } from './queues/registry';
import { codecFromConfig } from './security/codec-from-config';
import { hasherFromConfig, type IdentifierHasher } from './security/identifier-hash';
import type { PayloadCodec } from './security/payload-codec';
import { AuditLog } from './store/audit';
import { SharedCounters } from './store/counters';
import { ContactStore } from './store/contacts';
import { DestinationStatusStore } from './store/destination-status';
import { PushSubscriptionStore } from './store/push-subscriptions';
import { ReferenceStore } from './store/references';
import { TraceStore } from './store/trace';

export type OperatorConfig = Pick<Config, 'QUEUE_PREFIX' | 'DATA_KEY' | 'DATA_KEY_PREVIOUS' | 'SEAL_ACCEPT_LEGACY' | 'HASH_KEY' | 'HASH_KEY_PREVIOUS' | 'REFERENCE_RETENTION_DAYS'> & DestinationConfig;

/** What both the admin API and the `npm run admin` CLI work on: the stores and every gateway queue. */
export interface OperatorServices {
  /** The process's one handle per queue; producers take theirs from here. */
  registry: QueueRegistry;
  queues: Queue[];
  codec: PayloadCodec;
  hasher: IdentifierHasher;
  references: ReferenceStore;
  contacts: ContactStore;
  trace: TraceStore;
  audit: AuditLog;
  deadLetters: DeadLetters;
  forget: ForgetContact;
  reseal: Reseal;
  /** What the console's overview, GET /admin/overview and the CLI's `overview` show. */
  overview: OverviewReader;
}

export function buildOperatorServices(config: OperatorConfig, redis: RedisConnection): OperatorServices {
  const codec = codecFromConfig(config);
  const references = new ReferenceStore(redis, config.QUEUE_PREFIX, config.REFERENCE_RETENTION_DAYS, codec);
  const hasher = hasherFromConfig(config);
  const contacts = new ContactStore(redis, config.QUEUE_PREFIX, hasher, codec);
  const registry = new QueueRegistry(redis, config.QUEUE_PREFIX);
  const queues = registry.all();
  const trace = new TraceStore(redis, config.QUEUE_PREFIX, config.REFERENCE_RETENTION_DAYS);
  const audit = new AuditLog(redis, config.QUEUE_PREFIX);
  return {
    registry,
    queues,
    codec,
    hasher,
    references,
    contacts,
    trace,
    audit,
    deadLetters: new DeadLetters(queues, codec, audit, trace, new SendClaims(redis)),
    forget: new ForgetContact(queues, codec, contacts, references, trace, audit),
    overview: new OverviewService(queues, new SharedCounters(redis, config.QUEUE_PREFIX), new DestinationStatusStore(redis, config.QUEUE_PREFIX), config, redis),
    reseal: new Reseal(queues, codec, references, new PushSubscriptionStore(redis, config.QUEUE_PREFIX, codec), contacts, audit, config.REFERENCE_RETENTION_DAYS, hasher, redis),
  };
}
