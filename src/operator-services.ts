import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { DeadLetters } from './admin/dead-letters';
import { ForgetContact } from './admin/forget';
import type { Config } from './config';
import { QUEUES } from './queues/names';
import { codecFromConfig } from './security/codec-from-config';
import type { PayloadCodec } from './security/payload-codec';
import { AuditLog } from './store/audit';
import { ContactStore } from './store/contacts';
import { ReferenceStore } from './store/references';
import { TraceStore } from './store/trace';

export type OperatorConfig = Pick<Config, 'QUEUE_PREFIX' | 'DATA_KEY' | 'DATA_KEY_PREVIOUS' | 'REFERENCE_RETENTION_DAYS'>;

/** What both the admin API and the `npm run admin` CLI work on: the stores and every gateway queue. */
export interface OperatorServices {
  queues: Queue[];
  codec: PayloadCodec;
  references: ReferenceStore;
  contacts: ContactStore;
  trace: TraceStore;
  audit: AuditLog;
  deadLetters: DeadLetters;
  forget: ForgetContact;
  closeQueues(): Promise<void>;
}

export function buildOperatorServices(config: OperatorConfig, redis: Redis): OperatorServices {
  const codec = codecFromConfig(config);
  const references = new ReferenceStore(redis, config.QUEUE_PREFIX, config.REFERENCE_RETENTION_DAYS, codec);
  const contacts = new ContactStore(redis, config.QUEUE_PREFIX);
  const queues = Object.values(QUEUES).map((name) => {
    const q = new Queue(name, { connection: redis, prefix: config.QUEUE_PREFIX });
    q.on('error', () => undefined);
    return q;
  });
  const trace = new TraceStore(redis, config.QUEUE_PREFIX, config.REFERENCE_RETENTION_DAYS);
  const audit = new AuditLog(redis, config.QUEUE_PREFIX);
  return {
    queues,
    codec,
    references,
    contacts,
    trace,
    audit,
    deadLetters: new DeadLetters(queues, codec, audit, trace),
    forget: new ForgetContact(queues, codec, contacts, references, trace, audit),
    async closeQueues() {
      await Promise.all(queues.map((q) => q.close()));
    },
  };
}
