import path from 'node:path';
import { Worker, type Job, type Processor, type Queue, type WorkerOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { PrimeroClient } from '../src/clients/primero';
import { WhatsAppClient } from '../src/channels/whatsapp/reply-sender';
import { RapidProClient } from '../src/clients/rapidpro';
import { WebPushClient } from '../src/clients/webpush';
import { pushEndpointPolicy } from '../src/security/push-endpoint';
import { buildNotificationServices, pushEnabled, rapidProNotifyEnabled } from '../src/notifications/services';
import { SnapshotStore } from '../src/store/snapshots';
import type { Config } from '../src/config';
import { retryDelayMs } from '../src/domain/retry-policy';
import type { Logger } from '../src/logger';
import type { MappingSet } from '../src/mappings';
import { createRedis } from '../src/queues/connection';
import { GATEWAY_BACKOFF, referenceOfJobId } from '../src/queues/intake';
import { QUEUES, type QueueName } from '../src/queues/names';
import { QueueRegistry } from '../src/queues/registry';
import { ContactStore } from '../src/store/contacts';
import { AcceptanceLedger } from '../src/store/acceptances';
import { RecordLocks } from '../src/store/record-locks';
import { ReferenceStore } from '../src/store/references';
import { SharedCounters } from '../src/store/counters';
import { TraceStore } from '../src/store/trace';
import { WebhookSightings } from '../src/store/webhook-sightings';
import { codecFromConfig } from '../src/security/codec-from-config';
import { hasherFromConfig } from '../src/security/identifier-hash';
import { intakeProcessor } from './intake';
import { primeroEventProcessor } from './primero-events';
import { pollerProcessor } from './primero-poller';
import { pushProcessor } from './push';
import { rapidProNotifyProcessor } from './rapidpro-notify';
import { purgeExpired } from './retention';
import { whatsappReplyProcessor } from './whatsapp-replies';
import { whatsappUnreadableProcessor } from './whatsapp-unreadable';
import { buildApiServices, type ApiServices } from '../src/api-services';
import { storeWhatsAppMessage } from '../src/channels/whatsapp/store-message';
import type { WhatsAppInbound } from '../src/channels/whatsapp/parse';
import { loadKeywordTable } from '../src/keyword-table';

export interface RunningWorkers {
  close(deadlineMs: number): Promise<void>;
}

function retryAfterOf(err: unknown): number | null {
  const v = (err as { retryAfterMs?: unknown } | undefined)?.retryAfterMs;
  return typeof v === 'number' ? v : null;
}

interface Running {
  worker: Worker;
  queue: Queue;
  connection: Redis;
}

/** One worker per queue, all with the gateway's backoff and the same final-failure logging. */
interface Observers {
  logger: Logger;
  trace: TraceStore;
  counters: SharedCounters;
}

function runWorker(
  name: QueueName,
  config: Config,
  { logger, trace, counters }: Observers,
  build: (queue: Queue) => Processor,
  options: Partial<WorkerOptions>,
  queues: QueueRegistry,
  /** A scheduled job (poll, retention) carries no message: its failure is not a dead letter. */
  scheduled = false,
): Running {
  const queue = queues.get(name);
  const connection = createRedis(config.REDIS_URL, 'worker', { lazyConnect: false });
  connection.on('error', () => undefined);
  const worker = new Worker(name, build(queue), {
    connection,
    prefix: config.QUEUE_PREFIX,
    lockDuration: config.JOB_LOCK_MS,
    stalledInterval: config.JOB_LOCK_MS,
    settings: {
      backoffStrategy: (attemptsMade, type, err) =>
        type === GATEWAY_BACKOFF ? retryDelayMs(attemptsMade, { baseMs: config.RETRY_BASE_MS, maxMs: config.RETRY_MAX_MS }, retryAfterOf(err)) : 0,
    },
    ...options,
  });
  worker.on('error', (err) => logger.warn({ err, queue: name }, 'worker connection error'));
  worker.on('completed', () => counters.increment('gateway_jobs_total', { queue: name, outcome: 'completed' }));
  worker.on('failed', (job: Job | undefined, err: Error) => {
    if (!job || err.name === 'RateLimitError') return;
    const reference = name === QUEUES.intake ? referenceOfJobId(job.id ?? '') : ((job.data as { reference?: string })?.reference ?? null);
    const final = err.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
    counters.increment('gateway_jobs_total', { queue: name, outcome: final ? 'failed' : 'retried' });
    if (final && scheduled) {
      logger.warn({ queue: name, err }, 'scheduled run failed; the next one will try again');
    } else if (final) {
      logger.error({ reference, queue: name, jobId: job.id, attempts: job.attemptsMade, err }, 'message kept as a dead letter');
      if (reference) trace.record(reference, 'dead_lettered', { queue: name, error: err.message.slice(0, 300) }).catch(() => undefined);
    } else logger.warn({ reference, queue: name, jobId: job.id, attempts: job.attemptsMade, err }, 'attempt failed; will retry');
  });
  return { worker, queue, connection };
}

export function startWorkers(config: Config, logger: Logger, mappings: MappingSet): RunningWorkers {
  const shared = createRedis(config.REDIS_URL, 'worker', { lazyConnect: false });
  shared.on('error', () => undefined);
  const codec = codecFromConfig(config);
  const references = new ReferenceStore(shared, config.QUEUE_PREFIX, config.REFERENCE_RETENTION_DAYS, codec);
  const contacts = new ContactStore(shared, config.QUEUE_PREFIX, hasherFromConfig(config), codec);
  const trace = new TraceStore(shared, config.QUEUE_PREFIX, config.REFERENCE_RETENTION_DAYS);
  const counters = new SharedCounters(shared, config.QUEUE_PREFIX);
  const snapshots = new SnapshotStore(shared, config.QUEUE_PREFIX, config.REFERENCE_RETENTION_DAYS);
  const queues = new QueueRegistry(shared, config.QUEUE_PREFIX, (err, queue) => logger.warn({ err, queue }, 'queue connection error'));
  const notifications = buildNotificationServices(config, shared, queues, codec, contacts, trace, logger);
  const configPauseMs = config.AUTH_FAILURE_PAUSE_MS;
  const observers: Observers = { logger, trace, counters };
  const observe = (service: string) => (status: string) => counters.increment('gateway_outbound_calls_total', { service, status });
  const running: Running[] = [];
  const run = (name: QueueName, build: (queue: Queue) => Processor, options: Partial<WorkerOptions>, scheduled = false) => {
    const r = runWorker(name, config, observers, build, options, queues, scheduled);
    running.push(r);
    return r;
  };

  const primero = new PrimeroClient({
    baseUrl: config.PRIMERO_URL,
    user: config.PRIMERO_USER,
    password: config.PRIMERO_PASSWORD,
    timeoutMs: config.PRIMERO_TIMEOUT_MS,
    observe: observe('primero'),
  });
  run(
    QUEUES.intake,
    (queue) =>
      intakeProcessor({
        primero,
        references,
        codec,
        trace,
        contacts,
        snapshots,
        dispatcher: notifications.dispatcher,
        plan: notifications.plan,
        referenceRetentionDays: config.REFERENCE_RETENTION_DAYS,
        mappings,
        logger,
        queue,
        authFailurePauseMs: configPauseMs,
        sensitive: { moduleId: config.SENSITIVE_MODULE_ID, focalPoint: config.SENSITIVE_FOCAL_POINT },
        ledger: new AcceptanceLedger(shared, config.QUEUE_PREFIX, config.IDEMPOTENCY_WINDOW_HOURS * 3600),
        locks: new RecordLocks(shared, config.QUEUE_PREFIX),
        mergeLockMs: 3 * config.PRIMERO_TIMEOUT_MS + 5000,
        // A call our client gave up on (after PRIMERO_TIMEOUT_MS) may still commit in Primero: this long after it started, it has.
        stepSettleMs: 2 * config.PRIMERO_TIMEOUT_MS + 1000,
        confirmWindowMs: config.ENQUEUE_TIMEOUT_MS + 1000,
      }),
    // BullMQ fails a job that stalls twice (maxStalledCount 1): two worker crashes while a message is in
    // flight would dead-letter it though nothing refused it. Crashes get a budget as large as the attempts.
    { concurrency: config.INTAKE_CONCURRENCY, limiter: { max: config.PRIMERO_RATE_PER_SECOND, duration: 1000 }, maxStalledCount: config.INTAKE_ATTEMPTS },
  );

  run(
    QUEUES.primeroEvents,
    (queue) =>
      primeroEventProcessor({
        snapshots,
        references,
        dispatcher: notifications.dispatcher,
        trace,
        plan: notifications.plan,
        logger,
        primero,
        queue,
        configPauseMs,
        counters,
        sightings: new WebhookSightings(shared, config.QUEUE_PREFIX),
      }),
    { concurrency: 4, limiter: { max: config.PRIMERO_EVENTS_RATE_PER_SECOND, duration: 1000 } },
  );

  if (config.WHATSAPP_ACCESS_TOKEN && config.WHATSAPP_PHONE_NUMBER_ID) {
    const client = new WhatsAppClient({
      graphUrl: config.WHATSAPP_GRAPH_URL,
      phoneNumberId: config.WHATSAPP_PHONE_NUMBER_ID,
      accessToken: config.WHATSAPP_ACCESS_TOKEN,
      timeoutMs: 10000,
      observe: observe('whatsapp'),
    });
    // Meta's per-number throughput is far above this; the limiter exists so a 429 can pause the queue.
    run(QUEUES.whatsappReplies, (queue) => whatsappReplyProcessor({ client, contacts, codec, trace, logger, queue, authFailurePauseMs: configPauseMs }), {
      concurrency: 4,
      limiter: { max: 50, duration: 1000 },
    });
  }

  // Always running, whatever this process's WhatsApp settings: an API with WHATSAPP_APP_SECRET keeps jobs here,
  // and they must reach the failed set (the dead letters an operator sees) even when this worker's env lacks
  // the secret. Reading one needs only the codec; the intake a readable replay is stored through is built on
  // first need, exactly as the webhook route's.
  let intakeSide: ApiServices | null = null;
  const storeReplayed = (m: WhatsAppInbound) => {
    if (!intakeSide) {
      const keywords = loadKeywordTable(config.KEYWORDS_FILE ?? path.join(config.MAPPING_DIR, 'keywords.json'));
      intakeSide = buildApiServices(config, shared, logger, keywords, mappings);
    }
    return storeWhatsAppMessage(intakeSide.direct, intakeSide.whatsappReplies, m);
  };
  run(QUEUES.whatsappUnreadable, () => whatsappUnreadableProcessor({ codec, logger, store: storeReplayed }), { concurrency: 1 });

  if (pushEnabled(config)) {
    const client = new WebPushClient({ subject: config.VAPID_SUBJECT!, publicKey: config.VAPID_PUBLIC_KEY!, privateKey: config.VAPID_PRIVATE_KEY! }, 10000, pushEndpointPolicy(config.PUSH_ENDPOINT_HOSTS), observe('push'));
    run(
      QUEUES.push,
      (queue) =>
        pushProcessor({
          client,
          subscriptions: notifications.subscriptions,
          texts: notifications.texts,
          primeroUrl: config.PRIMERO_URL,
          ttlSeconds: config.PUSH_TTL_SECONDS,
          trace,
          logger,
          queue,
          configPauseMs,
        }),
      { concurrency: 8, limiter: { max: 100, duration: 1000 } },
    );
  }

  if (rapidProNotifyEnabled(config)) {
    const client = new RapidProClient({ baseUrl: config.RAPIDPRO_URL!, token: config.RAPIDPRO_TOKEN!, timeoutMs: 15000, observe: observe('rapidpro') });
    // Evenly spaced to our share of the workspace quota (default 1,200 of 3,600/hour), shared by every worker through Redis.
    run(
      QUEUES.rapidproNotify,
      (queue) => rapidProNotifyProcessor({ client, flowUuid: config.RAPIDPRO_NOTIFY_FLOW_UUID!, codec, contacts, trace, logger, queue, configPauseMs, counters }),
      { concurrency: 1, limiter: { max: 1, duration: Math.max(1, Math.floor(3_600_000 / config.RAPIDPRO_RATE_PER_HOUR)) } },
    );
  }

  if (config.PRIMERO_POLL_INTERVAL_SECONDS > 0) {
    const poller = run(
      QUEUES.primeroPoll,
      (queue) =>
        pollerProcessor({
          primero,
          events: notifications.events,
          redis: shared,
          prefix: config.QUEUE_PREFIX,
          logger,
          initialLookbackMs: 86_400_000,
          overlapMs: config.PRIMERO_POLL_OVERLAP_SECONDS * 1000,
          sightings: new WebhookSightings(shared, config.QUEUE_PREFIX),
          counters,
          queue,
          configPauseMs,
        }),
      { concurrency: 1 },
      true,
    );
    poller.queue
      .upsertJobScheduler('poll-changed-cases', { every: config.PRIMERO_POLL_INTERVAL_SECONDS * 1000 }, { name: 'poll', opts: { removeOnComplete: true, removeOnFail: 50, attempts: 1 } })
      .catch((err: Error) => logger.warn({ err }, 'could not schedule the Primero poller'));
  }

  // Retention runs hourly on one worker at a time; upsertJobScheduler is idempotent across restarts.
  const gatewayQueues = queues.all();
  const retention = { completedMs: config.COMPLETED_JOB_RETENTION_SECONDS * 1000, deadLetterMs: config.DEAD_LETTER_RETENTION_DAYS * 86_400_000 };
  const maintenance = run(QUEUES.maintenance, () => async () => purgeExpired(gatewayQueues, retention, logger), { concurrency: 1 }, true);
  maintenance.queue
    .upsertJobScheduler('retention', { every: 3_600_000 }, { name: 'purge-expired', opts: { removeOnComplete: true, removeOnFail: 10 } })
    .catch((err: Error) => logger.warn({ err }, 'could not schedule the retention job'));

  return {
    async close(deadlineMs: number) {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'late'>((r) => {
        timer = setTimeout(() => r('late'), deadlineMs);
      });
      // Past the deadline, active jobs are abandoned to the stalled checker: they run again elsewhere.
      const all = Promise.all(running.map((r) => r.worker.close())).then(() => 'done' as const);
      const outcome = await Promise.race([all, deadline]);
      clearTimeout(timer);
      if (outcome === 'late') await Promise.all(running.map((r) => r.worker.close(true)));
      await queues.close();
      if (intakeSide) await (intakeSide as ApiServices).close();
      await Promise.all([shared, ...running.map((r) => r.connection)].map((c) => c.quit().catch(() => undefined)));
    },
  };
}
