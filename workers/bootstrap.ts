import { Queue, Worker, type Job } from 'bullmq';
import { PrimeroClient } from '../src/clients/primero';
import type { Config } from '../src/config';
import { retryDelayMs } from '../src/domain/retry-policy';
import type { Logger } from '../src/logger';
import type { MappingSet } from '../src/mappings';
import { createRedis } from '../src/queues/connection';
import { GATEWAY_BACKOFF, referenceOfJobId } from '../src/queues/intake';
import { QUEUES } from '../src/queues/names';
import { ReferenceStore } from '../src/store/references';
import { intakeProcessor } from './intake';

export interface RunningWorkers {
  close(deadlineMs: number): Promise<void>;
}

function retryAfterOf(err: unknown): number | null {
  const v = (err as { retryAfterMs?: unknown } | undefined)?.retryAfterMs;
  return typeof v === 'number' ? v : null;
}

export function startWorkers(config: Config, logger: Logger, mappings: MappingSet): RunningWorkers {
  const connection = createRedis(config.REDIS_URL, 'worker', { lazyConnect: false });
  connection.on('error', () => undefined);
  const queue = new Queue(QUEUES.intake, { connection, prefix: config.QUEUE_PREFIX });
  queue.on('error', (err) => logger.warn({ err }, 'intake queue connection error'));
  const references = new ReferenceStore(connection, config.QUEUE_PREFIX, config.REFERENCE_RETENTION_DAYS);
  const primero = new PrimeroClient({
    baseUrl: config.PRIMERO_URL,
    user: config.PRIMERO_USER,
    password: config.PRIMERO_PASSWORD,
    timeoutMs: config.PRIMERO_TIMEOUT_MS,
  });

  const workerConnection = createRedis(config.REDIS_URL, 'worker', { lazyConnect: false });
  workerConnection.on('error', () => undefined);
  const worker = new Worker(
    QUEUES.intake,
    intakeProcessor({ primero, references, mappings, logger, queue, authFailurePauseMs: config.AUTH_FAILURE_PAUSE_MS }),
    {
      connection: workerConnection,
      prefix: config.QUEUE_PREFIX,
      concurrency: config.INTAKE_CONCURRENCY,
      limiter: { max: config.PRIMERO_RATE_PER_SECOND, duration: 1000 },
      settings: {
        backoffStrategy: (attemptsMade, type, err) =>
          type === GATEWAY_BACKOFF ? retryDelayMs(attemptsMade, { baseMs: config.RETRY_BASE_MS, maxMs: config.RETRY_MAX_MS }, retryAfterOf(err)) : 0,
      },
    },
  );
  worker.on('error', (err) => logger.warn({ err }, 'intake worker connection error'));
  worker.on('failed', (job: Job | undefined, err: Error) => {
    if (!job) return;
    const reference = referenceOfJobId(job.id ?? '');
    const final = err.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
    if (final) logger.error({ reference, queue: QUEUES.intake, attempts: job.attemptsMade, err }, 'message kept as a dead letter');
    else logger.warn({ reference, queue: QUEUES.intake, attempts: job.attemptsMade, err }, 'intake attempt failed; will retry');
  });

  return {
    async close(deadlineMs: number) {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'late'>((r) => {
        timer = setTimeout(() => r('late'), deadlineMs);
      });
      // Past the deadline, active jobs are abandoned to the stalled checker: they run again elsewhere.
      const outcome = await Promise.race([worker.close().then(() => 'done' as const), deadline]);
      clearTimeout(timer);
      if (outcome === 'late') await worker.close(true);
      await queue.close();
      await Promise.all([connection.quit(), workerConnection.quit()]).catch(() => undefined);
    },
  };
}
