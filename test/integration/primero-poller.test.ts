import { createHash, randomUUID } from 'node:crypto';
import { RateLimitError } from 'bullmq';
import nock from 'nock';
import type { RecordLook, RecordSnapshot } from '../../src/domain/record-events';
import { PrimeroClient } from '../../src/clients/primero';
import { createLogger } from '../../src/logger';
import type { PrimeroEventProducer } from '../../src/queues/primero-events';
import { SharedCounters } from '../../src/store/counters';
import { gatewayKey } from '../../src/store/keys';
import { PollCursorStore } from '../../src/store/poll-cursor';
import { WebhookSightings } from '../../src/store/webhook-sightings';
import { pollerProcessor, type PollerDeps } from '../../workers/primero-poll';
import { LogCapture, startGateway, uniquePrefix, type Gateway, scrapeMetrics } from '../support/gateway';
import { PRIMERO, primeroAnswer } from '../support/primero-fake';

const KEY = 'primero-webhook-key-3';

type Row = { id: string; last_updated_at: string; owned_by: string; status: string; workflow: string };
type Call = { from: string; to: string; page: number; per: number; query: URLSearchParams };

const row = (at: number | string): Row => ({ id: randomUUID(), last_updated_at: new Date(at).toISOString(), owned_by: 'sms_gateway', status: 'open', workflow: 'new' });

// A different order for each query, stable within it: what Postgres may do with rows equal under ORDER BY.
const shuffleKey = (id: string, query: number) => createHash('sha1').update(`${query}:${id}`).digest('hex');

// Primero compares both sides of the range as to_timestamp(…, 'YYYY-MM-DD"T"HH24:MI:SS') of Time#iso8601:
// whole seconds (primeroIMS/primero app/models/search_filters/date_value.rb).
const second = (t: string | number) => Math.floor((typeof t === 'number' ? t : Date.parse(t)) / 1000);

/**
 * `GET /api/v2/cases` as Primero answers it: `last_updated_at=a..b` is an inclusive range of whole seconds, the rows are
 * sorted by `order_by` alone and `page`/`per` are a limit/offset into that, `per` capped at 1000
 * (app/controllers/api/v2/concerns/pagination.rb, app/services/search/search_result.rb). Rows with equal
 * timestamps come in a different order on every query, as Postgres gives no stable order among ties.
 */
function offsetPagingPrimero(rows: Row[], onPage: (page: number) => void = () => undefined, ignoresOrder = false, index = 'cases'): Call[] {
  const calls: Call[] = [];
  nock(PRIMERO)
    .persist()
    .get(`/api/v2/${index}`)
    .query(true)
    .reply((uri) => {
      const q = new URL(uri, PRIMERO).searchParams;
      const [fromText, toText] = q.get('last_updated_at')!.split('..') as [string, string];
      const [from, to] = [second(fromText), second(toText)];
      const page = Number(q.get('page'));
      const per = Math.min(Number(q.get('per')), 1000);
      calls.push({ from: fromText, to: toText, page, per: Number(q.get('per')), query: q });
      onPage(page);
      const query = calls.length;
      const inWindow = rows.filter((r) => second(r.last_updated_at) >= from && second(r.last_updated_at) <= to);
      // One that ignores order_by answers its default, newest first (stably here, as created_at would be).
      if (ignoresOrder) inWindow.sort((a, b) => Date.parse(b.last_updated_at) - Date.parse(a.last_updated_at) || a.id.localeCompare(b.id));
      else inWindow.sort((a, b) => Date.parse(a.last_updated_at) - Date.parse(b.last_updated_at) || shuffleKey(a.id, query).localeCompare(shuffleKey(b.id, query)));
      return [200, { data: inWindow.slice((page - 1) * per, page * per), metadata: { total: inWindow.length, per, page } }];
    });
  return calls;
}

describe('the Primero poller', () => {
  let gw: Gateway;
  const logs = new LogCapture();
  const client = new PrimeroClient({ baseUrl: PRIMERO, user: 'sms_gateway', password: 'secret-password', timeoutMs: 1000 });

  const cursorKey = () => gatewayKey(gw.config.QUEUE_PREFIX, 'poll', 'cursor');
  const metric = async (name: string, reason: string): Promise<number> =>
    Number((await scrapeMetrics(gw)).match(new RegExp(`${name}\\{reason="${reason}"\\} (\\d+)`))?.[1] ?? '0');
  const collect = () => {
    const submitted: RecordSnapshot[] = [];
    return { submitted, events: { submit: async (s: RecordSnapshot) => (submitted.push(s), true) } };
  };

  function poller(events: Pick<PrimeroEventProducer, 'submit'>, over: Partial<PollerDeps> = {}) {
    return pollerProcessor({
      primero: client,
      events: events as PrimeroEventProducer,
      cursor: new PollCursorStore(gw.redis, gw.config.QUEUE_PREFIX),
      logger: createLogger('info', logs),
      initialLookbackMs: 3_600_000,
      overlapMs: 120_000,
      sightings: new WebhookSightings(gw.redis, gw.config.QUEUE_PREFIX),
      counters: new SharedCounters(gw.redis, gw.config.QUEUE_PREFIX),
      pageSize: 100,
      queue: gw.services.registry.get('primero-poll'),
      authFailurePauseMs: 60_000,
      ...over,
    });
  }

  beforeAll(async () => {
    nock.disableNetConnect();
    nock.enableNetConnect(/127\.0\.0\.1|localhost/);
    gw = await startGateway({ prefix: uniquePrefix('poller'), workers: false, env: { PRIMERO_WEBHOOK_API_KEY: KEY, PRIMERO_POLL_INTERVAL_SECONDS: '0' } });
  });
  // Each test starts from no cursor, or sets the one it is about; tests that poll twice run the overlap path.
  afterEach(async () => {
    nock.cleanAll();
    await gw.redis.del(cursorKey());
  });
  afterAll(async () => {
    await gw.close();
    nock.enableNetConnect();
  });

  it('reads every changed case when one changes again while it pages', async () => {
    const start = Date.now() - 30 * 60_000;
    const rows: Row[] = Array.from({ length: 250 }, (_, i) => ({ id: randomUUID(), last_updated_at: new Date(start + i * 1000).toISOString(), owned_by: 'sms_gateway', status: 'open', workflow: 'new' }));
    const original = new Map(rows.map((r) => [r.id, r.last_updated_at]));
    let changed = false;
    // After the first page is served, a caseworker edits a case on it: it leaves the window, every later row moves up one.
    offsetPagingPrimero(rows, (page) => {
      if (page > 1 && !changed) {
        changed = true;
        rows[10]!.last_updated_at = new Date(Date.now() + 5000).toISOString();
      }
    });
    const submitted: RecordSnapshot[] = [];
    const poll = poller({ submit: async (s) => (submitted.push(s), true) });
    await poll();
    const read = new Set(submitted.map((s) => s.recordId));
    expect(rows.filter((r) => original.get(r.id) === r.last_updated_at && !read.has(r.id))).toEqual([]);
    expect(submitted).toHaveLength(250 - (read.has(rows[10]!.id) ? 0 : 1));
  });

  it('says in a metric when Primero answers empty for a window its webhooks announced changes in', async () => {
    const recordId = randomUUID();
    const before = await metric('gateway_primero_poll_suspect_total', 'empty_despite_webhooks');
    // What the events worker records for a change to a case the API user has read.
    await new WebhookSightings(gw.redis, gw.config.QUEUE_PREFIX).record('case', recordId, new Date(Date.now() - 60_000).toISOString());
    const calls = offsetPagingPrimero([]);
    await poller({ submit: async () => true }, { pageSize: undefined })();
    expect(await metric('gateway_primero_poll_suspect_total', 'empty_despite_webhooks')).toBe(before + 1);
    expect((await scrapeMetrics(gw))).not.toContain(recordId);
    // Primero's largest page: fewer calls for the same rows, and fewer chances for an offset to shift.
    expect(calls[0]!.per).toBe(1000);
  });

  it('re-reads the overlap behind its cursor: a change stamped before the cursor but seen late is read', async () => {
    const cursor = Date.now() - 10 * 60_000;
    const early = row(cursor - 30_000);
    const rows = [row(cursor - 60 * 60_000), early, row(cursor + 1000)];
    await gw.redis.set(cursorKey(), new Date(cursor).toISOString());
    offsetPagingPrimero(rows);
    const { submitted, events } = collect();
    await poller(events)();
    expect(submitted.map((s) => s.recordId).sort()).toEqual([early.id, rows[2]!.id].sort());
    expect(await gw.redis.get(cursorKey())).toBe(rows[2]!.last_updated_at);
  });

  it('reads every case of a page that is all one timestamp, however Primero orders ties', async () => {
    const at = Date.now() - 20 * 60_000;
    const tied = Array.from({ length: 35 }, () => row(at));
    const later = Array.from({ length: 5 }, (_, i) => row(at + (i + 1) * 1000));
    const calls = offsetPagingPrimero([...tied, ...later]);
    const { submitted, events } = collect();
    await poller(events, { pageSize: 10 })();
    expect(new Set(submitted.map((s) => s.recordId))).toEqual(new Set([...tied, ...later].map((r) => r.id)));
    const wholeSecond = new Date(second(at) * 1000).toISOString();
    expect(calls).toContainEqual(expect.objectContaining({ from: wholeSecond, to: wholeSecond, page: 1, per: 1000 }));
  });

  it('reads past a second holding more than a page of changes at different milliseconds', async () => {
    // Primero cannot tell these apart (whole seconds), so stepping by a millisecond would read this second forever.
    const at = second(Date.now() - 20 * 60_000) * 1000;
    const sameSecond = Array.from({ length: 35 }, (_, i) => row(at + i * 25));
    const later = Array.from({ length: 5 }, (_, i) => row(at + (i + 1) * 1000 + 500));
    const calls = offsetPagingPrimero([...sameSecond, ...later]);
    const before = await metric('gateway_primero_poll_incomplete_total', 'max_pages');
    const { submitted, events } = collect();
    await poller(events, { pageSize: 10 })();
    expect(new Set(submitted.map((s) => s.recordId))).toEqual(new Set([...sameSecond, ...later].map((r) => r.id)));
    expect(await metric('gateway_primero_poll_incomplete_total', 'max_pages')).toBe(before);
    expect(await gw.redis.get(cursorKey())).toBe(later[4]!.last_updated_at);
    expect(calls.length).toBeLessThan(10);
  });

  it('holds the cursor and raises an alarm when even Primero\'s largest page cannot hold one timestamp', async () => {
    const at = Date.now() - 20 * 60_000;
    const tied = Array.from({ length: 1001 }, () => row(at));
    const later = [row(at + 1000), row(at + 2000)];
    offsetPagingPrimero([...tied, ...later]);
    const before = await metric('gateway_primero_poll_incomplete_total', 'equal_timestamps');
    const { submitted, events } = collect();
    await poller(events, { pageSize: 10 })();
    expect(await metric('gateway_primero_poll_incomplete_total', 'equal_timestamps')).toBe(before + 1);
    expect(logs.text).toContain('full page of cases changed at one instant');
    // Held at the second Primero can name, so the next poll reads all of it again.
    expect(await gw.redis.get(cursorKey())).toBe(new Date(second(at) * 1000).toISOString());
    // What changed after that instant is still read.
    expect(submitted.map((s) => s.recordId)).toEqual(expect.arrayContaining(later.map((r) => r.id)));
  });

  it('gets past its cursor when the overlap behind it holds more changes than a poll may read (a bulk reassign)', async () => {
    const cursor = Date.now() - 10 * 60_000;
    // 600 cases re-stamped within the 2 minutes behind the cursor, then three real new changes.
    const bulk = Array.from({ length: 600 }, (_, i) => row(cursor - 100_000 + i * 100));
    const fresh = [row(cursor + 1000), row(cursor + 2000), row(cursor + 3000)];
    await gw.redis.set(cursorKey(), new Date(cursor).toISOString());
    offsetPagingPrimero([...bulk, ...fresh]);
    const { submitted, events } = collect();
    await poller(events, { pageSize: 10 })();
    expect(submitted.map((s) => s.recordId)).toEqual(expect.arrayContaining(fresh.map((r) => r.id)));
    expect(await gw.redis.get(cursorKey())).toBe(fresh[2]!.last_updated_at);
  });

  it('counts a poll stopped by its page budget, and the next poll goes on from where it stopped', async () => {
    const start = Date.now() - 40 * 60_000;
    const rows = Array.from({ length: 700 }, (_, i) => row(start + i * 1000));
    offsetPagingPrimero(rows);
    const before = await metric('gateway_primero_poll_incomplete_total', 'max_pages');
    const { submitted, events } = collect();
    await poller(events, { pageSize: 10 })();
    expect(await metric('gateway_primero_poll_incomplete_total', 'max_pages')).toBe(before + 1);
    const firstPoll = new Set(submitted.map((s) => s.recordId)).size;
    expect(firstPoll).toBeLessThan(700);
    await poller(events, { pageSize: 10 })();
    expect(new Set(submitted.map((s) => s.recordId)).size).toBe(700);
    expect(await metric('gateway_primero_poll_incomplete_total', 'max_pages')).toBe(before + 1);
  });

  it('pauses polling and says so when Primero refuses the search (403: the role may not list cases)', async () => {
    nock(PRIMERO).get('/api/v2/cases').query(true).reply((uri) => primeroAnswer('forbidden', uri));
    const poll = poller({ submit: async () => true });
    await expect(poll()).rejects.toThrow(RateLimitError);
    expect(logs.text).toContain('PRIMERO CONFIGURATION FAULT');
    expect(await gw.services.registry.get('primero-poll').getRateLimitTtl()).toBeGreaterThan(50_000);
    expect(await gw.redis.get(gatewayKey(gw.config.QUEUE_PREFIX, 'poll', 'cursor'))).toBeNull();
  });

  it('hands on a case whose answer lacks a field the diff reads as lacking it, never as empty (a closed case read as reopened)', async () => {
    const withoutStatus: Partial<Row> & { id: string } = row(Date.now() - 60_000);
    delete withoutStatus.status;
    offsetPagingPrimero([withoutStatus as Row]);
    const { submitted, events } = collect();
    await poller(events)();
    expect(submitted).toEqual([expect.objectContaining({ recordId: withoutStatus.id, missing: expect.arrayContaining(['status']) })]);
    expect((submitted[0] as RecordLook).missing).not.toContain('owned_by');
  });

  it('reads every changed case and holds its cursor, with an alarm, when Primero does not sort as asked', async () => {
    const start = Date.now() - 30 * 60_000;
    const rows: Row[] = Array.from({ length: 45 }, (_, i) => row(start + i * 1000));
    await gw.redis.del(cursorKey());
    offsetPagingPrimero(rows, undefined, true);
    const before = await metric('gateway_primero_poll_incomplete_total', 'unsorted');
    const { submitted, events } = collect();
    await poller(events)();
    expect(new Set(submitted.map((s) => s.recordId))).toEqual(new Set(rows.map((r) => r.id)));
    expect(await metric('gateway_primero_poll_incomplete_total', 'unsorted')).toBe(before + 1);
    // Held where the out-of-order page began, not moved to the newest row read.
    expect(Date.parse((await gw.redis.get(cursorKey()))!)).toBeLessThan(Date.parse(rows[0]!.last_updated_at));
  });

  describe('with incidents polled as well (a mapping creates them)', () => {
    // The case cursor's key as it was when the poller read cases alone: an upgrade must find it where it was.
    const caseCursorKey = () => `${gw.config.QUEUE_PREFIX}:gw:poll:cursor`;
    const incidentCursorKey = () => gatewayKey(gw.config.QUEUE_PREFIX, 'poll', 'cursor', 'incident');
    const incidentMetric = async (name: string, reason: string): Promise<number> =>
      Number((await scrapeMetrics(gw)).match(new RegExp(`${name}\\{reason="${reason}",record_type="incident"\\} (\\d+)`))?.[1] ?? '0');
    const withIncidents = (events: Pick<PrimeroEventProducer, 'submit'>, over: Partial<PollerDeps> = {}) => poller(events, { recordTypes: ['case', 'incident'], ...over });
    afterEach(async () => {
      await gw.redis.del(incidentCursorKey(), gatewayKey(gw.config.QUEUE_PREFIX, 'poll', 'webhook-seen', 'incident'));
    });

    it('reads changed incidents from their own cursor, and the cases from the cursor they had', async () => {
      const cursor = Date.now() - 10 * 60_000;
      await gw.redis.set(caseCursorKey(), new Date(cursor).toISOString());
      const cases = [row(cursor - 60 * 60_000), row(cursor + 1000)];
      // An incident changed an hour before the case cursor: read, as incidents were never polled before.
      const incidents = [row(cursor - 60 * 60_000), row(cursor + 2000)].map(({ workflow: _none, ...r }) => ({ ...r, assigned_user_names: [], short_id: 'a1b2c3d' }));
      offsetPagingPrimero(cases);
      const calls = offsetPagingPrimero(incidents as unknown as Row[], undefined, false, 'incidents');
      const { submitted, events } = collect();
      await withIncidents(events, { initialLookbackMs: 2 * 3_600_000 })();
      expect(submitted.filter((s) => s.recordType === 'case').map((s) => s.recordId)).toEqual([cases[1]!.id]);
      expect(submitted.filter((s) => s.recordType === 'incident').map((s) => s.recordId).sort()).toEqual(incidents.map((r) => r.id).sort());
      // Nothing an incident lacks by nature (it has no workflow) sends the events worker to read it again.
      expect(submitted.filter((s) => s.recordType === 'incident').map((s) => (s as RecordLook).missing)).toEqual([undefined, undefined]);
      expect(submitted.find((s) => s.recordType === 'incident')!.caseIdDisplay).toBe('a1b2c3d');
      expect(await gw.redis.get(caseCursorKey())).toBe(cases[1]!.last_updated_at);
      expect(await gw.redis.get(incidentCursorKey())).toBe(incidents[1]!.last_updated_at);
      expect(calls[0]!.query.get('order_by')).toBe('last_updated_at');
      expect(calls[0]!.query.get('order')).toBe('asc');
      expect(calls[0]!.query.get('fields')!.split(',')).toEqual(expect.arrayContaining(['id', 'last_updated_at', 'owned_by', 'assigned_user_names', 'status', 'short_id', 'incident_code']));
      expect(calls[0]!.query.get('fields')!.split(',')).not.toContain('workflow');
    });

    it('counts an empty incidents answer for a window with announced incident changes under record_type="incident", and a case change is no such announcement', async () => {
      const sightings = new WebhookSightings(gw.redis, gw.config.QUEUE_PREFIX);
      await sightings.record('case', randomUUID(), new Date(Date.now() - 60_000).toISOString());
      offsetPagingPrimero([row(Date.now() - 30_000)]);
      offsetPagingPrimero([], undefined, false, 'incidents');
      const before = { incident: await incidentMetric('gateway_primero_poll_suspect_total', 'empty_despite_webhooks'), case: await metric('gateway_primero_poll_suspect_total', 'empty_despite_webhooks') };
      await withIncidents({ submit: async () => true })();
      expect(await incidentMetric('gateway_primero_poll_suspect_total', 'empty_despite_webhooks')).toBe(before.incident);
      await sightings.record('incident', randomUUID(), new Date(Date.now() - 60_000).toISOString());
      await withIncidents({ submit: async () => true })();
      expect(await incidentMetric('gateway_primero_poll_suspect_total', 'empty_despite_webhooks')).toBe(before.incident + 1);
      expect(logs.text).toContain('Primero returned no changed incidents for a window');
      expect(await metric('gateway_primero_poll_suspect_total', 'empty_despite_webhooks')).toBe(before.case);
    });

    it('counts an incidents poll stopped by its page budget under record_type="incident", leaving the cases\' count alone', async () => {
      const start = Date.now() - 40 * 60_000;
      offsetPagingPrimero([]);
      offsetPagingPrimero(Array.from({ length: 200 }, (_, i) => row(start + i * 1000)), undefined, false, 'incidents');
      const before = { incident: await incidentMetric('gateway_primero_poll_incomplete_total', 'max_pages'), case: await metric('gateway_primero_poll_incomplete_total', 'max_pages') };
      await withIncidents({ submit: async () => true }, { pageSize: 10, maxPages: 4 })();
      expect(await incidentMetric('gateway_primero_poll_incomplete_total', 'max_pages')).toBe(before.incident + 1);
      expect(await metric('gateway_primero_poll_incomplete_total', 'max_pages')).toBe(before.case);
    });

    it('a role that may not list incidents leaves incidents unpolled, said and counted, and never pauses the cases\' poll', async () => {
      const changed = row(Date.now() - 60_000);
      offsetPagingPrimero([changed]);
      nock(PRIMERO).get('/api/v2/incidents').query(true).reply((uri) => primeroAnswer('forbidden', uri));
      const before = await incidentMetric('gateway_primero_poll_incomplete_total', 'forbidden');
      const { submitted, events } = collect();
      expect(await withIncidents(events)()).toBe('queued 1');
      expect(submitted.map((s) => s.recordId)).toEqual([changed.id]);
      expect(await gw.redis.get(caseCursorKey())).toBe(changed.last_updated_at);
      expect(await gw.redis.get(incidentCursorKey())).toBeNull();
      expect(await incidentMetric('gateway_primero_poll_incomplete_total', 'forbidden')).toBe(before + 1);
      expect(await gw.services.registry.get('primero-poll').isPaused()).toBe(false);
    });
  });

  it('does not count a quiet window as suspect', async () => {
    offsetPagingPrimero([]);
    const before = await metric('gateway_primero_poll_suspect_total', 'empty_despite_webhooks');
    await gw.redis.del(gatewayKey(gw.config.QUEUE_PREFIX, 'poll', 'webhook-seen'));
    await poller({ submit: async () => true })();
    expect(await metric('gateway_primero_poll_suspect_total', 'empty_despite_webhooks')).toBe(before);
  });
});
