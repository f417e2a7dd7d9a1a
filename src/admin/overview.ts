import type { Queue } from 'bullmq';
import { SCHEDULED_QUEUES } from '../queues/jobs';
import { ACCEPTED_COUNTER } from '../queues/intake';
import type { SharedCounters } from '../store/counters';
import type { DestinationStatusStore } from '../store/destination-status';
import { configuredDestinations, destinationStates, type DestinationConfig } from './overview-destinations';
import type { Overview, OverviewReader, QueueBacklog } from './overview-types';

const sumOf = (counters: Awaited<ReturnType<SharedCounters['all']>>, name: string, match: Record<string, string>) =>
  counters.filter((c) => c.name === name && Object.entries(match).every(([k, v]) => c.labels[k] === v)).reduce((n, c) => n + c.value, 0);

/** The figures of the overview, read from the queues and the shared counters: counts and states only. */
export class OverviewService implements OverviewReader {
  constructor(
    private readonly queues: Queue[],
    private readonly counters: SharedCounters,
    private readonly pauses: DestinationStatusStore,
    private readonly config: DestinationConfig,
  ) {}

  private async backlog(q: Queue, now: number): Promise<QueueBacklog> {
    const counts = await q.getJobCounts('waiting', 'active', 'delayed', 'failed', 'prioritized');
    const [oldest] = await q.getJobs(['waiting', 'prioritized', 'delayed'], 0, 0, true);
    return {
      queue: q.name,
      waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0),
      active: counts.active ?? 0,
      delayed: counts.delayed ?? 0,
      failed: counts.failed ?? 0,
      oldestAgeSeconds: oldest ? Math.max(0, Math.round((now - oldest.timestamp) / 1000)) : null,
    };
  }

  async read(): Promise<Overview> {
    const now = Date.now();
    const messageQueues = this.queues.filter((q) => !SCHEDULED_QUEUES.has(q.name));
    const queues = await Promise.all(messageQueues.map((q) => this.backlog(q, now)));
    let oldestFailedAt: number | null = null;
    for (const q of messageQueues) {
      const [job] = await q.getJobs(['failed'], 0, 0, true);
      const at = job ? (job.finishedOn ?? job.timestamp) : null;
      if (at !== null && (oldestFailedAt === null || at < oldestFailedAt)) oldestFailedAt = at;
    }
    const [counters, destinations] = await Promise.all([this.counters.all(), destinationStates(configuredDestinations(this.config), this.queues, this.pauses, now)]);
    return {
      generatedAt: new Date(now).toISOString(),
      messagesReceived: sumOf(counters, ACCEPTED_COUNTER, {}),
      casesCreated: sumOf(counters, 'gateway_jobs_total', { queue: 'intake', outcome: 'completed' }),
      deadLetters: { count: queues.reduce((n, q) => n + q.failed, 0), oldestFailedAt: oldestFailedAt === null ? null : new Date(oldestFailedAt).toISOString() },
      queues,
      destinations,
    };
  }
}
