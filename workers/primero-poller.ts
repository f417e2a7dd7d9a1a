import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { PrimeroClient } from '../src/clients/primero';
import { snapshotOf } from '../src/domain/record-events';
import type { Logger } from '../src/logger';
import type { PrimeroEventProducer } from '../src/queues/primero-events';
import type { SharedCounters } from '../src/store/counters';
import { gatewayKey } from '../src/store/keys';
import type { WebhookSightings } from '../src/store/webhook-sightings';
import { rethrowForQueue } from '../src/queues/failure-policy';

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
  /** Rows per call (at most Primero's 1000) and calls per poll; smaller in tests. */
  pageSize?: number;
  maxPages?: number;
  /** A 401 or 403 on the search is the role's fault: the poll queue pauses this long and says so. */
  queue: Queue;
  configPauseMs: number;
}

// Primero's largest page (`per` is capped at 1000: app/controllers/api/v2/concerns/pagination.rb).
const PRIMERO_MAX_PER = 1000;
const MAX_PAGES = 50;

const moreThan = (a: string, b: string) => Date.parse(a) > Date.parse(b);
// Primero compares `last_updated_at` ranges to the whole second: SearchFilters::DateValue renders the bound with
// Time#iso8601 (no fraction) and both sides go through to_timestamp(…, 'YYYY-MM-DD"T"HH24:MI:SS')
// (primeroIMS/primero app/models/search_filters/date_value.rb). One second is the smallest step it can tell apart.
const secondOf = (t: string) => new Date(Math.floor(Date.parse(t) / 1000) * 1000).toISOString();
const laterSecond = (a: string, b: string) => moreThan(secondOf(a), secondOf(b));
const nextSecond = (t: string) => new Date(Date.parse(secondOf(t)) + 1000).toISOString();

/**
 * The fallback for lost or disabled Primero webhooks: reads cases changed since the cursor and feeds each
 * into the queue the webhooks feed. Primero sorts by `last_updated_at` alone and pages by offset (limit/offset
 * in Postgres, which keeps no stable order among equal timestamps), so paging by offset skips records.
 * Instead each page is asked for from the newest timestamp the previous page ended on (inclusive, page 1
 * again), and what is re-read is dropped by id and timestamp. Primero tells timestamps apart only to the
 * second, so a page wholly of one second S cannot be passed that way: S alone is read in one call of
 * Primero's largest page, the poll goes on from the next second, and if even that page is full, the cursor
 * is held at S and an alarm raised (the rest of the poll still reads past it). The cursor is the
 * newest change read; the next poll starts `overlapMs` before it. If re-reading the overlap would use more
 * than half the page budget (a bulk reassign behind the cursor), the poll jumps to the cursor, so it always
 * moves on.
 */
export function pollerProcessor(deps: PollerDeps) {
  const cursorKey = gatewayKey(deps.prefix, 'poll', 'cursor');
  const per = Math.min(deps.pageSize ?? PRIMERO_MAX_PER, PRIMERO_MAX_PER);
  const maxPages = deps.maxPages ?? MAX_PAGES;
  const incomplete = (reason: string) => deps.counters.increment('gateway_primero_poll_incomplete_total', { reason });
  return async (): Promise<string> => {
    const stored = await deps.redis.get(cursorKey);
    const from = stored ? new Date(Date.parse(stored) - deps.overlapMs).toISOString() : new Date(Date.now() - deps.initialLookbackMs).toISOString();
    const to = new Date().toISOString();
    const list = (since: string, until: string, page: number, size: number) =>
      deps.primero.listChangedCases(since, until, page, size).catch((err: unknown) => rethrowForQueue(err, deps.queue, deps.logger, deps.configPauseMs));
    const seen = new Set<string>();
    let newest = stored ?? from;
    let heldAt: string | null = null;
    let queued = 0;
    const take = async (records: Array<Record<string, unknown>>) => {
      for (const r of records) {
        const snapshot = snapshotOf(r, 'case');
        if (!snapshot || seen.has(`${snapshot.recordId}@${snapshot.lastUpdatedAt}`)) continue;
        seen.add(`${snapshot.recordId}@${snapshot.lastUpdatedAt}`);
        if (await deps.events.submit(snapshot)) queued++;
        if (moreThan(snapshot.lastUpdatedAt, newest)) newest = snapshot.lastUpdatedAt;
      }
    };
    let since = from;
    let page = 1;
    let finished = false;
    for (let calls = 0; calls < maxPages; calls++) {
      if (stored && moreThan(stored, since) && calls >= Math.ceil(maxPages / 2)) {
        deps.logger.warn({ from: since, cursor: stored }, 'the overlap behind the poll cursor holds more changes than half the page budget; going on from the cursor');
        since = stored;
        page = 1;
      }
      const records = await list(since, to, page, per);
      await take(records);
      if (records.length < per) {
        finished = true;
        break;
      }
      const last = records.map((r) => snapshotOf(r, 'case')?.lastUpdatedAt).filter((t): t is string => !!t).pop();
      if (last && laterSecond(last, since)) {
        since = last;
        page = 1;
        continue;
      }
      // The whole page is one second: read all of it at once, where offsets cannot shift.
      calls++;
      since = secondOf(since);
      const same = await list(since, since, 1, PRIMERO_MAX_PER);
      await take(same);
      if (same.length >= PRIMERO_MAX_PER) {
        heldAt ??= since;
        incomplete('equal_timestamps');
        deps.logger.error({ at: since, read: same.length }, 'Primero holds at least a full page of cases changed at one instant; the poll cursor stays there and some of them may be unread');
      }
      since = nextSecond(since);
      page = 1;
    }
    if (!finished) {
      incomplete('max_pages');
      deps.logger.warn({ pages: maxPages, cursor: newest }, 'poll stopped at its page budget; the next poll goes on from its cursor');
    }
    const cursor = heldAt && moreThan(newest, heldAt) ? heldAt : newest;
    await deps.redis.set(cursorKey, cursor);
    if (seen.size === 0) {
      const announced = await deps.sightings.countBetween(from, to);
      if (announced > 0) {
        deps.counters.increment('gateway_primero_poll_suspect_total', { reason: 'empty_despite_webhooks' });
        deps.logger.warn({ from, to, announced }, 'Primero returned no changed cases for a window its webhooks announced changes in; the poll may have failed inside Primero');
      }
    }
    deps.logger.info({ queued, read: seen.size, cursor }, 'poll done');
    return `queued ${queued}`;
  };
}
