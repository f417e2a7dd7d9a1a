import { Queue, Worker, type Job, type Processor, type WorkerOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { PrimeroClient } from '../src/clients/primero';
import { WhatsAppClient } from '../src/clients/whatsapp';
import type { Config } from '../src/config';
import { retryDelayMs } from '../src/domain/retry-policy';
import type { Logger } from '../src/logger';
import type { MappingSet } from '../src/mappings';
import { createRedis } from '../src/queues/connection';
import { GATEWAY_BACKOFF, referenceOfJobId } from '../src/queues/intake';
import { QUEUES, type QueueName } from '../src/queues/names';
import { ContactStore } from '../src/store/contacts';
import { ReferenceStore } from '../src/store/references';
import { SharedCounters } from '../src/store/counters';
import { TraceStore } from '../src/store/trace';
import { codecFromConfig } from '../src/security/codec-from-config';
import { intakeProcessor } from './intake';
import { purgeExpired } from './retention';
import { whatsappReplyProcessor } from './whatsapp-replies';

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
  shared: Redis,
): Running {
  const queue = new Queue(name, { connection: shared, prefix: config.QUEUE_PREFIX });
  queue.on('error', (err) => logger.warn({ err, queue: name }, 'queue connection error'));
  const connection = createRedis(config.REDIS_URL, 'worker', { lazyConnect: false });
  connection.on('error', () => undefined);
  const worker = new Worker(name, build(queue), {
    connection,
    prefix: config.QUEUE_PREFIX,
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
    if (final) {
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
  const contacts = new ContactStore(shared, config.QUEUE_PREFIX);
  const trace = new TraceStore(shared, config.QUEUE_PREFIX, config.REFERENCE_RETENTION_DAYS);
  const counters = new SharedCounters(shared, config.QUEUE_PREFIX);
  const pauseMs = config.AUTH_FAILURE_PAUSE_MS;
  const observers: Observers = { logger, trace, counters };
  const running: Running[] = [];

  const primero = new PrimeroClient({
    baseUrl: config.PRIMERO_URL,
    user: config.PRIMERO_USER,
    password: config.PRIMERO_PASSWORD,
    timeoutMs: config.PRIMERO_TIMEOUT_MS,
    observe: (status) => counters.increment('gateway_outbound_calls_total', { service: 'primero', status }),
  });
  running.push(
    runWorker(QUEUES.intake, config, observers, (queue) => intakeProcessor({
        primero,
        references,
        codec,
        trace,
        contacts,
        referenceRetentionDays: config.REFERENCE_RETENTION_DAYS,
        mappings,
        logger,
        queue,
        authFailurePauseMs: pauseMs,
        sensitive: { moduleId: config.SENSITIVE_MODULE_ID, focalPoint: config.SENSITIVE_FOCAL_POINT },
      }), {
      concurrency: config.INTAKE_CONCURRENCY,
      limiter: { max: config.PRIMERO_RATE_PER_SECOND, duration: 1000 },
    }, shared),
  );

  if (config.WHATSAPP_ACCESS_TOKEN && config.WHATSAPP_PHONE_NUMBER_ID) {
    const client = new WhatsAppClient({
      graphUrl: config.WHATSAPP_GRAPH_URL,
      phoneNumberId: config.WHATSAPP_PHONE_NUMBER_ID,
      accessToken: config.WHATSAPP_ACCESS_TOKEN,
      timeoutMs: 10000,
      observe: (status) => counters.increment('gateway_outbound_calls_total', { service: 'whatsapp', status }),
    });
    running.push(
      runWorker(QUEUES.whatsappReplies, config, observers, (queue) => whatsappReplyProcessor({ client, contacts, codec, trace, logger, queue, authFailurePauseMs: pauseMs }), {
        concurrency: 4,
        // Meta's per-number throughput is far above this; the limiter exists so a 429 can pause the queue.
        limiter: { max: 50, duration: 1000 },
      }, shared),
    );
  }

  // Retention runs hourly on one worker at a time; upsertJobScheduler is idempotent across restarts.
  const gatewayQueues = running.map((r) => r.queue);
  const retention = { completedMs: config.COMPLETED_JOB_RETENTION_SECONDS * 1000, deadLetterMs: config.DEAD_LETTER_RETENTION_DAYS * 86_400_000 };
  const maintenance = runWorker(QUEUES.maintenance, config, observers, () => async () => purgeExpired(gatewayQueues, retention, logger), { concurrency: 1 }, shared);
  running.push(maintenance);
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
      await Promise.all(running.map((r) => r.queue.close()));
      await Promise.all([shared, ...running.map((r) => r.connection)].map((c) => c.quit().catch(() => undefined)));
    },
  };
}
