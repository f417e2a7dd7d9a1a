import type { Queue } from 'bullmq';
import type { RedisConnection } from '../queues/connection';
import { RECORDS_CREATED_COUNTER } from '../cases/records';
import { SCHEDULED_QUEUES } from '../queues/jobs';
import { ACCEPTED_COUNTER } from '../queues/intake';
import type { SharedCounters } from '../store/counters';
import { DESTINATION_QUEUES, type DestinationStatusStore } from '../store/destination-status';
import { scanBacklog, type BacklogScan } from './overview-backlog';
import { configuredDestinations, listedDestinations, stateOf, type DestinationConfig } from './overview-destinations';
import type { DestinationName, DestinationState, Overview, OverviewReader, QueueBacklog } from './overview-types';

const sumOf = (counters: Awaited<ReturnType<SharedCounters['all']>>, name: string) => counters.filter((c) => c.name === name).reduce((n, c) => n + c.value, 0);

const DESTINATIONS = Object.keys(DESTINATION_QUEUES) as DestinationName[];
const ownQueues = (d: DestinationName): readonly string[] => DESTINATION_QUEUES[d];

interface QueueReading {
  name: string;
  scan: BacklogScan;
  /** null for a scheduled queue: it holds its own next run, not messages. */
  backlog: QueueBacklog | null;
}

/** The figures of the overview, read from the queues and the shared counters: counts and states only. */
export class OverviewService implements OverviewReader {
  constructor(
    private readonly queues: Queue[],
    private readonly counters: SharedCounters,
    private readonly pauses: DestinationStatusStore,
    private readonly config: DestinationConfig,
    /** The connection the queues' own keys are scanned on (read only). */
    private readonly redis: Pick<RedisConnection, 'eval'>,
  ) {}

  private async reading(q: Queue, now: number): Promise<QueueReading> {
    const scan = await scanBacklog(this.redis, q);
    if (SCHEDULED_QUEUES.has(q.name)) return { name: q.name, scan, backlog: null };
    const counts = await q.getJobCounts('waiting', 'active', 'delayed', 'failed', 'prioritized');
    const backlog = {
      queue: q.name,
      waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0),
      active: counts.active ?? 0,
      delayed: counts.delayed ?? 0,
      failed: counts.failed ?? 0,
      oldestAgeSeconds: scan.oldestTimestamp === null ? null : Math.max(0, Math.round((now - scan.oldestTimestamp) / 1000)),
    };
    return { name: q.name, scan, backlog };
  }

  /** Each destination listed, from its queues' pauses and retried jobs. */
  private async destinations(readings: readonly QueueReading[], now: number): Promise<DestinationState[]> {
    const inForce = await this.pauses.pauses(DESTINATIONS.flatMap(ownQueues));
    const of = (d: DestinationName) => readings.filter((r) => ownQueues(d).includes(r.name));
    const inUse = new Set(DESTINATIONS.filter((d) => of(d).some((r) => inForce.has(r.name) || (r.backlog && r.backlog.waiting + r.backlog.active + r.backlog.delayed + r.backlog.failed > 0))));
    return listedDestinations(configuredDestinations(this.config), inUse).map((d) => {
      const pauses = new Map([...inForce].filter(([queue]) => ownQueues(d).includes(queue)));
      const retried = of(d).find((r) => r.scan.retriedFailure !== null);
      return stateOf(d, { pauses, retriedFailure: retried?.scan.retriedFailure ?? null }, now);
    });
  }

  async read(): Promise<Overview> {
    const now = Date.now();
    const readings = await Promise.all(this.queues.map((q) => this.reading(q, now)));
    const queues = readings.flatMap((r) => (r.backlog ? [r.backlog] : []));
    const failedAts = readings.flatMap((r) => (r.backlog && r.scan.oldestFailedAt !== null ? [r.scan.oldestFailedAt] : []));
    const [counters, destinations] = await Promise.all([this.counters.all(), this.destinations(readings, now)]);
    return {
      generatedAt: new Date(now).toISOString(),
      messagesReceived: sumOf(counters, ACCEPTED_COUNTER),
      casesCreated: sumOf(counters, RECORDS_CREATED_COUNTER),
      deadLetters: { count: queues.reduce((n, q) => n + q.failed, 0), oldestFailedAt: failedAts.length ? new Date(Math.min(...failedAts)).toISOString() : null },
      queues,
      destinations,
    };
  }
}
