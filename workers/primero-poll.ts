import type { Queue } from 'bullmq';
import type { PrimeroClient, RecordType } from '../src/clients/primero';
import { lookOf, snapshotOf } from '../src/domain/record-events';
import type { Logger } from '../src/logger';
import type { PrimeroEventProducer } from '../src/queues/primero-events';
import type { SharedCounters } from '../src/store/counters';
import type { PollCursorStore } from '../src/store/poll-cursor';
import type { WebhookSightings } from '../src/store/webhook-sightings';
import { rethrowForQueue } from '../src/queues/failure-policy';
import { DeliveryError } from '../src/clients/delivery-error';

export interface PollerDeps {
  primero: Pick<PrimeroClient, 'listChanged'>;
  events: PrimeroEventProducer;
  /** Where the previous poll stopped. */
  cursor: PollCursorStore;
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
  authFailurePauseMs: number;
  /**
   * The record types polled, each from its own cursor, in this order (cases alone when not given). Incidents are
   * polled only where a mapping creates them: every type is one more Primero call per interval.
   */
  recordTypes?: readonly RecordType[];
}

// Primero's largest page (`per` is capped at 1000: app/controllers/api/v2/concerns/pagination.rb).
const PRIMERO_MAX_PER = 1000;
// Calls per poll when the caller names none (PRIMERO_POLL_MAX_PAGES's default; the registration passes the setting).
const MAX_PAGES = 50;

const moreThan = (a: string, b: string) => Date.parse(a) > Date.parse(b);
// Primero compares `last_updated_at` ranges to the whole second: SearchFilters::DateValue renders the bound with
// Time#iso8601 (no fraction) and both sides go through to_timestamp(…, 'YYYY-MM-DD"T"HH24:MI:SS')
// (primeroIMS/primero app/models/search_filters/date_value.rb). One second is the smallest step it can tell apart.
const secondOf = (t: string) => new Date(Math.floor(Date.parse(t) / 1000) * 1000).toISOString();
const laterSecond = (a: string, b: string) => moreThan(secondOf(a), secondOf(b));
const nextSecond = (t: string) => new Date(Date.parse(secondOf(t)) + 1000).toISOString();

// How the logs name a type's records ("the changed-cases poll", as before incidents were polled).
const PLURAL: Record<RecordType, string> = { case: 'cases', incident: 'incidents' };
// The counters' labels: a case poll's are as they were before incidents were polled, so a deployment's series go
// on counting; an incident poll's say so.
const typeLabels = (type: RecordType): Record<string, string> => (type === 'case' ? {} : { record_type: type });

/**
 * The fallback for lost or disabled Primero webhooks: reads the records of each type changed since that type's
 * cursor and feeds each into the queue the webhooks feed. Types are polled one after the other in the order given
 * (the registration puts cases first, so a fault on the incidents search never costs the cases their poll), each
 * with its own page budget; a failure ends the poll, the types finished before it having stored their cursors.
 * Primero sorts by `last_updated_at` alone and pages by offset (limit/offset in Postgres, which keeps no stable
 * order among equal timestamps), so paging by offset skips records.
 * Instead each page is asked for from the newest timestamp the previous page ended on (inclusive, page 1
 * again), and what is re-read is dropped by id and timestamp. Primero tells timestamps apart only to the
 * second, so a page wholly of one second S cannot be passed that way: S alone is read in one call of
 * Primero's largest page, the poll goes on from the next second, and if even that page is full, the cursor
 * is held at S and an alarm raised (the rest of the poll still reads past it). The cursor is the
 * newest change read; the next poll starts `overlapMs` before it. If re-reading the overlap would use more
 * than half the page budget (a bulk reassign behind the cursor), the poll jumps to the cursor, so it always
 * moves on. Incidents are searched as cases are: one index action (Api::V2::Concerns::Record#index, included by
 * app/controllers/api/v2/incidents_controller.rb) with the same pagination, `order_by`, `fields` and filters
 * (SearchFilterService lists Incident among FILTERABLE_MODELS; `last_updated_at` is the Historical concern's on
 * both models and readable on both, PermittedFieldService::PERMITTED_RECORD_INFORMATION_FIELDS).
 */
export function pollerProcessor(deps: PollerDeps) {
  const per = Math.min(deps.pageSize ?? PRIMERO_MAX_PER, PRIMERO_MAX_PER);
  const maxPages = deps.maxPages ?? MAX_PAGES;
  const types = deps.recordTypes ?? ['case'];
  return async (): Promise<string> => {
    let queued = 0;
    for (const type of types) queued += await pollRecords(deps, type, per, maxPages).catch((err: unknown) => (err instanceof TypeUnsearchable ? 0 : Promise.reject(err)));
    return `queued ${queued}`;
  };
}

/** One poll of one record type, from its cursor to now; how many changes it queued. */
async function pollRecords(deps: PollerDeps, type: RecordType, per: number, maxPages: number): Promise<number> {
  const stored = await deps.cursor.read(type);
  const from = stored ? new Date(Date.parse(stored) - deps.overlapMs).toISOString() : new Date(Date.now() - deps.initialLookbackMs).toISOString();
  const to = new Date().toISOString();
  const poll: Poll = { deps, type, stored, to, per, maxPages, seen: new Set(), newest: stored ?? from, heldAt: null, queued: 0, unsorted: false };
  await readPages(poll, from);
  const cursor = poll.heldAt && moreThan(poll.newest, poll.heldAt) ? poll.heldAt : poll.newest;
  await deps.cursor.write(type, cursor);
  if (poll.seen.size === 0) await warnIfWebhooksSawChanges(deps, type, from, to);
  deps.logger.info({ recordType: type, queued: poll.queued, read: poll.seen.size, cursor }, 'poll done');
  return poll.queued;
}

/** One poll's progress: what it has read so far, and where its cursor may go. */
interface Poll {
  deps: PollerDeps;
  type: RecordType;
  stored: string | null;
  to: string;
  per: number;
  maxPages: number;
  seen: Set<string>;
  newest: string;
  heldAt: string | null;
  queued: number;
  /** A page came out of order: the rest is read by offset, and the cursor held. */
  unsorted: boolean;
}

const incomplete = (poll: Poll, reason: string) => poll.deps.counters.increment('gateway_primero_poll_incomplete_total', { reason, ...typeLabels(poll.type) });

/** This other type cannot be searched (403, 404) while cases can: it is left unpolled, never the whole poll paused. */
class TypeUnsearchable extends Error {}

// Said once per process (counted at every poll): at the default interval a warning each time is 288 lines a day.
const unsearchableSaid = new Set<RecordType>();

function list(poll: Poll, since: string, until: string, page: number, size: number): Promise<Array<Record<string, unknown>>> {
  const { deps } = poll;
  return deps.primero.listChanged(poll.type, since, until, page, size).catch((err: unknown) => {
    // 403: the role may not list it; 404: a Primero (or a proxy in front) that serves no such index.
    if (poll.type !== 'case' && err instanceof DeliveryError && (err.status === 403 || err.status === 404)) {
      incomplete(poll, err.status === 403 ? 'forbidden' : 'not_found');
      if (!unsearchableSaid.has(poll.type)) deps.logger.warn({ recordType: poll.type, status: err.status }, "this record type cannot be searched (the API user's role may not list it, or Primero serves no such index): its changes are not polled");
      unsearchableSaid.add(poll.type);
      throw new TypeUnsearchable();
    }
    return rethrowForQueue(err, deps.queue, deps.logger, deps.authFailurePauseMs);
  });
}

async function take(poll: Poll, records: Array<Record<string, unknown>>): Promise<void> {
  for (const r of records) {
    // A look, not a snapshot: a field the answer lacks (one the role may not read, or nil) is filled by the events
    // worker from a read or the stored look, never taken as empty (a "reopened" for a case still closed).
    const snapshot = lookOf(r, [], poll.type);
    if (!snapshot || poll.seen.has(`${snapshot.recordId}@${snapshot.lastUpdatedAt}`)) continue;
    poll.seen.add(`${snapshot.recordId}@${snapshot.lastUpdatedAt}`);
    if (await poll.deps.events.submit(snapshot)) poll.queued++;
    if (moreThan(snapshot.lastUpdatedAt, poll.newest)) poll.newest = snapshot.lastUpdatedAt;
  }
}

async function readPages(poll: Poll, from: string): Promise<void> {
  const { deps, stored, per, maxPages } = poll;
  let since = from;
  let page = 1;
  for (let calls = 0; calls < maxPages; calls++) {
    if (stored && moreThan(stored, since) && calls >= Math.ceil(maxPages / 2)) {
      deps.logger.warn({ recordType: poll.type, from: since, cursor: stored }, 'the overlap behind the poll cursor holds more changes than half the page budget; going on from the cursor');
      since = stored;
      page = 1;
    }
    const records = await list(poll, since, poll.to, page, per);
    await take(poll, records);
    if (!poll.unsorted && !inOrder(records)) heldUnsorted(poll, since);
    if (records.length < per) return;
    // Pages not in order: moving `since` to a page's last row would pass rows of later pages; read on by offset.
    if (poll.unsorted) {
      page++;
      continue;
    }
    const last = records.map((r) => snapshotOf(r, poll.type)?.lastUpdatedAt).filter((t): t is string => !!t).pop();
    if (last && laterSecond(last, since)) {
      since = last;
      page = 1;
      continue;
    }
    // The whole page is one second: read all of it at once, where offsets cannot shift.
    calls++;
    since = await readOneSecond(poll, secondOf(since));
    page = 1;
  }
  incomplete(poll, 'max_pages');
  deps.logger.warn({ recordType: poll.type, pages: maxPages, cursor: poll.newest }, 'poll stopped at its page budget; the next poll goes on from its cursor');
}

/** Whether a page's rows come by `last_updated_at`, oldest first, as the poll asks (`order_by`, `order=asc`). */
function inOrder(records: Array<Record<string, unknown>>): boolean {
  const times = records.map((r) => Date.parse(String(r.last_updated_at)));
  return times.every((t, i) => i === 0 || Number.isNaN(t) || Number.isNaN(times[i - 1]!) || t >= times[i - 1]!);
}

/**
 * Primero answered rows out of the order asked for (the reference marks `order_by=last_updated_at` as inferred, to be
 * verified on each instance; its default is `created_at desc`). The cursor is held where this page began, so the next
 * poll reads the window again, and an alarm says so.
 */
function heldUnsorted(poll: Poll, since: string): void {
  poll.unsorted = true;
  poll.heldAt ??= since;
  incomplete(poll, 'unsorted');
  poll.deps.logger.error({ recordType: poll.type, since }, `Primero answered the changed-${PLURAL[poll.type]} poll out of last_updated_at order; the poll reads on by page and holds its cursor, check that this Primero sorts by order_by`);
}

/** Reads every record changed in the second `at` in one call; where the poll goes on from (the next second). */
async function readOneSecond(poll: Poll, at: string): Promise<string> {
  const same = await list(poll, at, at, 1, PRIMERO_MAX_PER);
  await take(poll, same);
  if (same.length >= PRIMERO_MAX_PER) {
    poll.heldAt ??= at;
    incomplete(poll, 'equal_timestamps');
    poll.deps.logger.error({ recordType: poll.type, at, read: same.length }, `Primero holds at least a full page of ${PLURAL[poll.type]} changed at one instant; the poll cursor stays there and some of them may be unread`);
  }
  return nextSecond(at);
}

async function warnIfWebhooksSawChanges(deps: PollerDeps, type: RecordType, from: string, to: string): Promise<void> {
  const announced = await deps.sightings.countBetween(type, from, to);
  if (announced > 0) {
    deps.counters.increment('gateway_primero_poll_suspect_total', { reason: 'empty_despite_webhooks', ...typeLabels(type) });
    deps.logger.warn({ recordType: type, from, to, announced }, `Primero returned no changed ${PLURAL[type]} for a window its webhooks announced changes in; the poll may have failed inside Primero`);
  }
}
