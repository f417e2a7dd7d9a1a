import type { JobsOptions, Processor, Queue, WorkerOptions } from 'bullmq';
import { africasTalkingPersonSender } from '../src/channels/africastalking/person-sender';
import { RapidProClient } from '../src/clients/rapidpro';
import { WebPushClient } from '../src/clients/webpush';
import { WhatsAppClient } from '../src/channels/whatsapp/reply-sender';
import type { Config } from '../src/config';
import { pushEnabled, rapidProNotifyEnabled } from '../src/notifications/services';
import { africasTalkingSends } from '../src/queues/africastalking-replies';
import { JOBS } from '../src/queues/jobs';
import { NoteDetector } from '../src/replies/note-detector';
import { QUEUES, type QueueName } from '../src/queues/names';
import { rapidProShares, spacedPerHour } from '../src/queues/rapidpro-quota';
import { hasherFromConfig } from '../src/security/identifier-hash';
import { pushEndpointPolicy } from '../src/security/push-endpoint';
import { AcceptanceLedger } from '../src/store/acceptances';
import { RecordLocks } from '../src/store/record-locks';
import { createsIncidents } from '../src/mappings';
import { PollCursorStore } from '../src/store/poll-cursor';
import { WebhookSightings } from '../src/store/webhook-sightings';
import type { WorkerServices } from '../src/worker-services';
import { africasTalkingReplyProcessor } from './africastalking-replies';
import { CASEWORKER_REGISTRATIONS } from './caseworker-registrations';
import { intakeProcessor } from './intake';
import { maintenanceProcessor } from './maintenance';
import { primeroEventProcessor } from './primero-events';
import { pollerProcessor } from './primero-poll';
import { pushProcessor } from './push';
import { DisplayIds } from '../src/cases/display-ids';
import { rapidProNotifyProcessor } from './rapidpro-notify';
import { whatsappReplyProcessor } from './whatsapp-replies';
import { whatsappUnreadableProcessor } from './whatsapp-unreadable';

/** A queue's worker: whether this process runs it, its processor, its options, and its schedule if it has one. */
export interface Registration {
  queue: QueueName;
  enabled(config: Config): boolean;
  processor(services: WorkerServices, queue: Queue): Processor;
  options(config: Config): Partial<WorkerOptions>;
  /** A scheduled queue's run: added every `everyMs` (upsertJobScheduler is idempotent across restarts). */
  schedule?: Schedule;
}

export interface Schedule {
  id: string;
  jobName: string;
  everyMs(config: Config): number;
  options: JobsOptions;
  /** Logged when the schedule cannot be written. */
  problem: string;
}

const always = () => true;

/** A scheduled queue's schedule: its id, job name and options are its catalogue entry's; only the interval is a setting. */
function scheduleOf(queue: typeof QUEUES.primeroPoll | typeof QUEUES.maintenance, everyMs: (config: Config) => number, problem: string): Schedule {
  const entry = JOBS[queue];
  return { id: entry.scheduler, jobName: entry.name, everyMs, options: entry.options(), problem };
}
const perSecond = (max: number) => ({ max, duration: 1000 });

const intake: Registration = {
  queue: QUEUES.intake,
  enabled: always,
  processor: (s, queue) =>
    intakeProcessor({
      primero: s.primero,
      references: s.references,
      codec: s.codec,
      trace: s.trace,
      contacts: s.contacts,
      snapshots: s.snapshots,
      dispatcher: s.notifications.dispatcher,
      plan: s.notifications.plan,
      referenceRetentionDays: s.config.REFERENCE_RETENTION_DAYS,
      mappings: s.mappings,
      logger: s.logger,
      queue,
      authFailurePauseMs: s.config.AUTH_FAILURE_PAUSE_MS,
      sensitive: { moduleId: s.config.SENSITIVE_MODULE_ID, focalPoint: s.config.SENSITIVE_FOCAL_POINT },
      ledger: new AcceptanceLedger(s.shared, s.config.QUEUE_PREFIX, s.config.IDEMPOTENCY_WINDOW_HOURS * 3600),
      counters: s.counters,
      locks: new RecordLocks(s.shared, s.config.QUEUE_PREFIX),
      // A text-append merge holds the record through a read and a write, plus slack: 3 × PRIMERO_TIMEOUT_MS + 5 s.
      mergeLockMs: 3 * s.config.PRIMERO_TIMEOUT_MS + 5000,
      // A call our client gave up on (after PRIMERO_TIMEOUT_MS) may still commit in Primero: this long after it started, it has.
      stepSettleMs: 2 * s.config.PRIMERO_TIMEOUT_MS + 1000,
      // The API's confirmation window (ENQUEUE_TIMEOUT_MS) plus a second of clock slack.
      confirmWindowMs: s.config.ENQUEUE_TIMEOUT_MS + 1000,
    }),
  // BullMQ fails a job that stalls twice (maxStalledCount 1): two worker crashes while a message is in
  // flight would dead-letter it though nothing refused it. Crashes get a budget as large as the attempts.
  options: (c) => ({ concurrency: c.INTAKE_CONCURRENCY, limiter: perSecond(c.PRIMERO_RATE_PER_SECOND), maxStalledCount: c.INTAKE_ATTEMPTS }),
};

const safeFieldOf = (s: WorkerServices) => (intent: string) => s.mappings.get(intent as 'referral' | 'feedback')?.safe_to_contact_field;

const primeroEvents: Registration = {
  queue: QUEUES.primeroEvents,
  enabled: always,
  processor: (s, queue) =>
    primeroEventProcessor({
      codec: s.codec,
      snapshots: s.snapshots,
      references: s.references,
      dispatcher: s.notifications.dispatcher,
      trace: s.trace,
      plan: s.notifications.plan,
      logger: s.logger,
      primero: s.primero,
      queue,
      authFailurePauseMs: s.config.AUTH_FAILURE_PAUSE_MS,
      counters: s.counters,
      sightings: new WebhookSightings(s.shared, s.config.QUEUE_PREFIX),
      notes: new NoteDetector({ primero: s.primero, references: s.references, ...s.caseworkerMessages, subject: s.config.REPLY_NOTE_SUBJECT, logger: s.logger, counters: s.counters, safeFieldOf: safeFieldOf(s) }),
      safeFieldOf: safeFieldOf(s),
    }),
  options: (c) => ({ concurrency: c.PRIMERO_EVENTS_CONCURRENCY, limiter: perSecond(c.PRIMERO_EVENTS_RATE_PER_SECOND) }),
};

const whatsappReplies: Registration = {
  queue: QUEUES.whatsappReplies,
  enabled: (c) => !!(c.WHATSAPP_ACCESS_TOKEN && c.WHATSAPP_PHONE_NUMBER_ID),
  processor: (s, queue) => {
    const client = new WhatsAppClient({
      graphUrl: s.config.WHATSAPP_GRAPH_URL,
      phoneNumberId: s.config.WHATSAPP_PHONE_NUMBER_ID!,
      accessToken: s.config.WHATSAPP_ACCESS_TOKEN!,
      timeoutMs: s.config.WHATSAPP_TIMEOUT_MS,
      observe: s.observe('whatsapp'),
    });
    const { contacts, codec, references, snapshots, trace, logger, counters, sendClaims: claims } = s;
    return whatsappReplyProcessor({ client, contacts, codec, references, snapshots, trace, logger, counters, claims, queue, authFailurePauseMs: s.config.AUTH_FAILURE_PAUSE_MS });
  },
  options: (c) => ({ concurrency: c.WHATSAPP_REPLY_CONCURRENCY, limiter: perSecond(c.WHATSAPP_REPLY_RATE_PER_SECOND) }),
};

// The caseworker messages' sender, rate and concurrency (REPLY_RATE_PER_SECOND is this queue's own budget, not shared).
// A job whose worker died mid-send is run once more (BullMQ's default maxStalledCount 1): its send claim makes that
// attempt settle as "not confirmed" (counted, traced), never a second SMS.
const africastalkingReplies: Registration = {
  queue: QUEUES.africastalkingReplies,
  enabled: africasTalkingSends,
  processor: (s, queue) => {
    const sender = africasTalkingPersonSender({ config: s.config, redis: s.shared, hasher: hasherFromConfig(s.config), logger: s.logger, rapidpro: null })!;
    const { codec, references, snapshots, trace, contacts, logger, counters, sendClaims: claims } = s;
    return africasTalkingReplyProcessor({ sender, codec, references, snapshots, trace, contacts, logger, counters, claims, queue, authFailurePauseMs: s.config.AUTH_FAILURE_PAUSE_MS });
  },
  options: (c) => ({ concurrency: c.REPLY_CONCURRENCY, limiter: perSecond(c.REPLY_RATE_PER_SECOND) }),
};

// Always running, whatever this process's WhatsApp settings: an API with WHATSAPP_APP_SECRET keeps jobs here,
// and they must reach the failed set (the dead letters an operator sees) even when this worker's env lacks the secret.
const whatsappUnreadable: Registration = {
  queue: QUEUES.whatsappUnreadable,
  enabled: always,
  processor: (s) => whatsappUnreadableProcessor({ codec: s.codec, logger: s.logger, store: (m) => s.storeReplayed(m) }),
  options: () => ({ concurrency: 1 }),
};

const push: Registration = {
  queue: QUEUES.push,
  enabled: pushEnabled,
  processor: (s, queue) => {
    const c = s.config;
    const client = new WebPushClient({ subject: c.VAPID_SUBJECT!, publicKey: c.VAPID_PUBLIC_KEY!, privateKey: c.VAPID_PRIVATE_KEY! }, c.PUSH_TIMEOUT_MS, pushEndpointPolicy(c.PUSH_ENDPOINT_HOSTS), s.observe('push'));
    const { subscriptions, texts } = s.notifications;
    const displayIds = new DisplayIds(s.snapshots, s.references, s.primero, s.logger);
    return pushProcessor({ client, subscriptions, texts, displayIds, primeroUrl: c.PRIMERO_URL, ttlSeconds: c.PUSH_TTL_SECONDS, trace: s.trace, logger: s.logger, queue, authFailurePauseMs: c.AUTH_FAILURE_PAUSE_MS, counters: s.counters });
  },
  // A 429 (DelayedError) spends no attempt: without a cap on starts, a push service that keeps answering 429 would
  // keep one alert waiting forever. Every real attempt fits, plus the catalogue's waits (and stalled restarts).
  options: (c) => ({ concurrency: c.PUSH_CONCURRENCY, limiter: perSecond(c.PUSH_RATE_PER_SECOND), maxStartedAttempts: c.REPLY_ATTEMPTS + JOBS[QUEUES.push].maxWaits }),
};

const rapidproNotify: Registration = {
  queue: QUEUES.rapidproNotify,
  enabled: rapidProNotifyEnabled,
  processor: (s, queue) => {
    const c = s.config;
    const client = new RapidProClient({ baseUrl: c.RAPIDPRO_URL!, token: c.RAPIDPRO_TOKEN!, timeoutMs: c.RAPIDPRO_TIMEOUT_MS, observe: s.observe('rapidpro') });
    const { codec, contacts, references, snapshots, trace, logger, counters, sendClaims: claims } = s;
    return rapidProNotifyProcessor({ client, flowUuid: c.RAPIDPRO_NOTIFY_FLOW_UUID!, codec, contacts, references, snapshots, trace, logger, queue, authFailurePauseMs: c.AUTH_FAILURE_PAUSE_MS, counters, claims });
  },
  // Evenly spaced to its part of our share of the workspace quota (RAPIDPRO_RATE_PER_HOUR, split with caseworker messages).
  options: (c) => ({ concurrency: 1, limiter: spacedPerHour(rapidProShares(c.RAPIDPRO_RATE_PER_HOUR).notify) }),
};

const primeroPoll: Registration = {
  queue: QUEUES.primeroPoll,
  enabled: (c) => c.PRIMERO_POLL_INTERVAL_SECONDS > 0,
  processor: (s, queue) =>
    pollerProcessor({
      primero: s.primero,
      events: s.notifications.events,
      cursor: new PollCursorStore(s.shared, s.config.QUEUE_PREFIX),
      logger: s.logger,
      initialLookbackMs: s.config.PRIMERO_POLL_INITIAL_LOOKBACK_HOURS * 3_600_000,
      maxPages: s.config.PRIMERO_POLL_MAX_PAGES,
      overlapMs: s.config.PRIMERO_POLL_OVERLAP_SECONDS * 1000,
      sightings: new WebhookSightings(s.shared, s.config.QUEUE_PREFIX),
      counters: s.counters,
      queue,
      authFailurePauseMs: s.config.AUTH_FAILURE_PAUSE_MS,
      // Cases always (records made before a mapping changed type still need their changes); incidents only where a
      // mapping makes them, so a deployment without any makes no extra call to Primero each interval.
      recordTypes: createsIncidents(s.mappings) ? ['case', 'incident'] : ['case'],
    }),
  options: () => ({ concurrency: 1 }),
  schedule: scheduleOf(QUEUES.primeroPoll, (c) => c.PRIMERO_POLL_INTERVAL_SECONDS * 1000, 'could not schedule the Primero poller'),
};

// Retention runs every RETENTION_INTERVAL_MINUTES (hourly by default) on one worker at a time.
const maintenance: Registration = {
  queue: QUEUES.maintenance,
  enabled: always,
  processor: (s) => {
    const gatewayQueues = s.queues.all();
    const retention = { completedMs: s.config.COMPLETED_JOB_RETENTION_SECONDS * 1000, deadLetterMs: s.config.DEAD_LETTER_RETENTION_DAYS * 86_400_000 };
    return maintenanceProcessor(gatewayQueues, retention, s.logger);
  },
  options: () => ({ concurrency: 1 }),
  schedule: scheduleOf(QUEUES.maintenance, (c) => c.RETENTION_INTERVAL_MINUTES * 60_000, 'could not schedule the retention job'),
};

/** Every queue's worker, in start order. A new queue is a new entry here and its processor file beside it. */
export const REGISTRATIONS: readonly Registration[] = [intake, primeroEvents, whatsappReplies, africastalkingReplies, whatsappUnreadable, push, rapidproNotify, ...CASEWORKER_REGISTRATIONS, primeroPoll, maintenance];
