import type { Config } from '../src/config';
import type { Logger } from '../src/logger';
import type { MappingSet } from '../src/mappings';
import { buildWorkerServices } from '../src/worker-services';
import { REGISTRATIONS } from './registrations';
import { runWorker, stopWorkers, type RunningWorker } from './run-worker';

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
