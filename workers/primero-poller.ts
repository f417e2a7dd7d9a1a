import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { PrimeroClient } from '../src/clients/primero';
import { snapshotOf } from '../src/domain/record-events';
import type { Logger } from '../src/logger';
import type { PrimeroEventProducer } from '../src/queues/primero-events';
import type { SharedCounters } from '../src/store/counters';
import { gatewayKey } from '../src/store/keys';
import type { WebhookSightings } from '../src/store/webhook-sightings';
import { rethrowForQueue } from './delivery-failure';

export interface PollerDeps {
  primero: Pick<PrimeroClient, 'listChangedCases'>;
  events: PrimeroEventProducer;
  redis: Redis;
  prefix: string;
  logger: Logger;
  /** The cursor starts this far back the first time, so a fresh gateway does not read all history. */
  initialLookbackMs: number;
  /** Each poll re-reads this far behind the cursor: a change committed late, or stamped by a skewed clock, is still read. */
  overlapMs: number;
  sightings: WebhookSightings;
  counters: SharedCounters;
  pageSize?: number;
  /** A 401 or 403 on the search is the role's fault: the poll queue pauses this long and says so. */
  queue: Queue;
  configPauseMs: number;
}

const PAGE = 100;
const MAX_PAGES = 50;

/**
 * The fallback for lost or disabled Primero webhooks: reads cases changed since the cursor and feeds each
 * into the queue the webhooks feed. Primero pages by offset, so a record changed during the poll shifts
 * every later one a place and one would be skipped at a page boundary. Instead each page is asked for from
 * the newest `last_updated_at` the previous page ended on (inclusive, page 1 again): what is re-read is
 * dropped by id and timestamp, and only a page wholly of one timestamp moves on by offset. The cursor is the
 * newest change read; the next poll starts `overlapMs` before it, and the queue and the snapshots drop repeats.
 */
export function pollerProcessor(deps: PollerDeps) {
  const cursorKey = gatewayKey(deps.prefix, 'poll', 'cursor');
  const per = deps.pageSize ?? PAGE;
  return async (): Promise<string> => {
    const stored = await deps.redis.get(cursorKey);
    const from = stored ? new Date(Date.parse(stored) - deps.overlapMs).toISOString() : new Date(Date.now() - deps.initialLookbackMs).toISOString();
    const to = new Date().toISOString();
    const seen = new Set<string>();
    let newest = stored ?? from;
    let since = from;
    let page = 1;
    let queued = 0;
    for (let calls = 0; calls < MAX_PAGES; calls++) {
      const records = await deps.primero.listChangedCases(since, to, page, per).catch((err: unknown) => rethrowForQueue(err, deps.queue, deps.logger, deps.configPauseMs));
      for (const r of records) {
        const snapshot = snapshotOf(r, 'case');
        if (!snapshot || seen.has(`${snapshot.recordId}@${snapshot.lastUpdatedAt}`)) continue;
        seen.add(`${snapshot.recordId}@${snapshot.lastUpdatedAt}`);
        if (await deps.events.submit(snapshot)) queued++;
        if (Date.parse(snapshot.lastUpdatedAt) > Date.parse(newest)) newest = snapshot.lastUpdatedAt;
      }
      if (records.length < per) break;
      const last = records.map((r) => snapshotOf(r, 'case')?.lastUpdatedAt).filter((t): t is string => !!t).pop();
      if (last && Date.parse(last) > Date.parse(since)) {
        since = last;
        page = 1;
      } else page++;
    }
    await deps.redis.set(cursorKey, newest);
    if (seen.size === 0) {
      const announced = await deps.sightings.countBetween(from, to);
      if (announced > 0) {
        deps.counters.increment('gateway_primero_poll_suspect_total', { reason: 'empty_despite_webhooks' });
        deps.logger.warn({ from, to, announced }, 'Primero returned no changed cases for a window its webhooks announced changes in; the poll may have failed inside Primero');
      }
    }
    deps.logger.info({ queued, read: seen.size, cursor: newest }, 'poll done');
    return `queued ${queued}`;
  };
}
