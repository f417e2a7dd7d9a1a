import { Worker, type Job, type Processor, type Queue, type WorkerOptions } from 'bullmq';
import type { RedisConnection } from '../src/queues/connection';
import { retryDelayMs } from '../src/domain/retry-policy';
import { createRedis } from '../src/queues/connection';
import { GATEWAY_BACKOFF, referenceOfJob, SCHEDULED_QUEUES } from '../src/queues/jobs';
import type { QueueName } from '../src/queues/names';
import type { Config } from '../src/config';
import type { Logger } from '../src/logger';
import type { MappingSet } from '../src/mappings';
import { buildWorkerServices, type WorkerServices } from '../src/worker-services';
import { REGISTRATIONS } from './registrations';

export interface RunningWorker {
  worker: Worker;
  queue: Queue;
  /** Its own connection: BullMQ's blocking commands cannot share one. */
  connection: RedisConnection;
}

function retryAfterOf(err: unknown): number | null {
  const v = (err as { retryAfterMs?: unknown } | undefined)?.retryAfterMs;
  return typeof v === 'number' ? v : null;
}

/** The same final-failure policy for every queue: counted, logged, and a message's dead letter traced. */
function watchFailures(worker: Worker, name: QueueName, { logger, trace, counters }: WorkerServices): void {
  // A scheduled job (poll, retention) carries no message: its failure is not a dead letter.
  const scheduled = SCHEDULED_QUEUES.has(name);
  worker.on('error', (err) => logger.warn({ err, queue: name }, 'worker connection error'));
  worker.on('completed', () => counters.increment('gateway_jobs_total', { queue: name, outcome: 'completed' }));
  worker.on('failed', (job: Job | undefined, err: Error) => {
    if (!job || err.name === 'RateLimitError') return;
    const reference = referenceOfJob(name, job);
    // A job past its worker's maxStartedAttempts is failed by BullMQ with an UnrecoverableError: final, as it should be.
    const final = err.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
    counters.increment('gateway_jobs_total', { queue: name, outcome: final ? 'failed' : 'retried' });
    if (final && scheduled) {
      logger.warn({ queue: name, err }, 'scheduled run failed; the next one will try again');
    } else if (final) {
      logger.error({ reference, queue: name, jobId: job.id, attempts: job.attemptsMade, err }, 'message kept as a dead letter');
      if (reference) trace.record(reference, 'dead_lettered', { queue: name, error: err.message.slice(0, 300) }).catch(() => undefined);
    } else logger.warn({ reference, queue: name, jobId: job.id, attempts: job.attemptsMade, err }, 'attempt failed; will retry');
  });
}

/** One worker on one queue, with the gateway's backoff, lock settings and failure policy. */
export function runWorker(name: QueueName, services: WorkerServices, processor: Processor, options: Partial<WorkerOptions>): RunningWorker {
  const { config } = services;
  const queue = services.queues.get(name);
  const connection = createRedis(config, 'worker', { lazyConnect: false });
  connection.on('error', () => undefined);
  const worker = new Worker(name, processor, {
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
  watchFailures(worker, name, services);
  return { worker, queue, connection };
}

/** Lets the workers finish what they hold; past the deadline, active jobs are abandoned to the stalled checker (they run again elsewhere). */
export async function stopWorkers(running: RunningWorker[], services: WorkerServices, deadlineMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'late'>((r) => {
    timer = setTimeout(() => r('late'), deadlineMs);
  });
  const all = Promise.all(running.map((r) => r.worker.close())).then(() => 'done' as const);
  const outcome = await Promise.race([all, deadline]);
  clearTimeout(timer);
  if (outcome === 'late') await Promise.all(running.map((r) => r.worker.close(true)));
  await services.close();
  await Promise.all([services.shared, ...running.map((r) => r.connection)].map((c) => c.quit().catch(() => undefined)));
}

export interface RunningWorkers {
  close(deadlineMs: number): Promise<void>;
}

/** Starts one worker per enabled registration, and the schedules of the scheduled ones. */
export function startWorkers(config: Config, logger: Logger, mappings: MappingSet): RunningWorkers {
  const services = buildWorkerServices(config, logger, mappings);
  const running: RunningWorker[] = [];
  for (const registration of REGISTRATIONS) {
    if (!registration.enabled(config)) continue;
    const queue = services.queues.get(registration.queue);
    const started = runWorker(registration.queue, services, registration.processor(services, queue), registration.options(config));
    running.push(started);
    const schedule = registration.schedule;
    if (schedule) {
      started.queue
        .upsertJobScheduler(schedule.id, { every: schedule.everyMs(config) }, { name: schedule.jobName, opts: schedule.options })
        .catch((err: Error) => logger.warn({ err }, schedule.problem));
    }
  }
  return { close: (deadlineMs) => stopWorkers(running, services, deadlineMs) };
}
