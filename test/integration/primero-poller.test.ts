import { randomUUID } from 'node:crypto';
import { RateLimitError } from 'bullmq';
import nock from 'nock';
import request from 'supertest';
import type { RecordSnapshot } from '../../src/domain/record-events';
import { PrimeroClient } from '../../src/clients/primero';
import { createLogger } from '../../src/logger';
import type { PrimeroEventProducer } from '../../src/queues/primero-events';
import { SharedCounters } from '../../src/store/counters';
import { gatewayKey } from '../../src/store/keys';
import { WebhookSightings } from '../../src/store/webhook-sightings';
import { pollerProcessor } from '../../workers/primero-poller';
import { LogCapture, PRIMERO, startGateway, uniquePrefix, type Gateway } from '../support/gateway';
import { primeroAnswer, primeroWebhookBody } from '../support/primero-fake';

const KEY = 'primero-webhook-key-3';

type Row = { id: string; last_updated_at: string; owned_by: string; status: string; workflow: string };

/**
 * `GET /api/v2/cases` as Primero answers it: `last_updated_at=a..b` is an inclusive range, the rows are
 * ordered by `order_by`, and `page`/`per` are an offset into that (app/controllers/api/v2/concerns/pagination.rb).
 */
function offsetPagingPrimero(rows: Row[], onPage: (page: number) => void = () => undefined) {
  nock(PRIMERO)
    .persist()
    .get('/api/v2/cases')
    .query(true)
    .reply((uri) => {
      const q = new URL(uri, PRIMERO).searchParams;
      const [from, to] = q.get('last_updated_at')!.split('..').map((t) => Date.parse(t));
      const page = Number(q.get('page'));
      const per = Number(q.get('per'));
      onPage(page);
      const inWindow = rows.filter((r) => Date.parse(r.last_updated_at) >= from! && Date.parse(r.last_updated_at) <= to!);
      inWindow.sort((a, b) => Date.parse(a.last_updated_at) - Date.parse(b.last_updated_at));
      return [200, { data: inWindow.slice((page - 1) * per, page * per), metadata: { total: inWindow.length, per, page } }];
    });
}

describe('the Primero poller', () => {
  let gw: Gateway;
  const logs = new LogCapture();
  const client = new PrimeroClient({ baseUrl: PRIMERO, user: 'sms_gateway', password: 'secret-password', timeoutMs: 1000 });

  function poller(events: Pick<PrimeroEventProducer, 'submit'>) {
    return pollerProcessor({
      primero: client,
      events: events as PrimeroEventProducer,
      redis: gw.redis,
      prefix: gw.config.QUEUE_PREFIX,
      logger: createLogger('info', logs),
      initialLookbackMs: 3_600_000,
      overlapMs: 120_000,
      sightings: new WebhookSightings(gw.redis, gw.config.QUEUE_PREFIX),
      counters: new SharedCounters(gw.redis, gw.config.QUEUE_PREFIX),
      pageSize: 100,
      queue: gw.services.registry.get('primero-poll'),
      configPauseMs: 60_000,
    });
  }

  beforeAll(async () => {
    nock.disableNetConnect();
    nock.enableNetConnect(/127\.0\.0\.1|localhost/);
    gw = await startGateway({ prefix: uniquePrefix('poller'), workers: false, env: { PRIMERO_WEBHOOK_API_KEY: KEY, PRIMERO_POLL_INTERVAL_SECONDS: '0' } });
  });
  afterEach(async () => {
    nock.cleanAll();
    await gw.redis.del(gatewayKey(gw.config.QUEUE_PREFIX, 'poll', 'cursor'));
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
    const at = new Date(Date.now() - 60_000).toISOString();
    const res = await request(gw.app).post('/webhooks/primero').set('x-api-key', KEY).type('json').send(JSON.stringify(primeroWebhookBody('full', recordId, at)));
    expect(res.status).toBe(202);
    offsetPagingPrimero([]);
    await poller({ submit: async () => true })();
    const metrics = (await request(gw.app).get('/metrics')).text;
    expect(metrics).toContain('gateway_primero_poll_suspect_total{reason="empty_despite_webhooks"} 1');
    expect(metrics).not.toContain(recordId);
  });

  it('pauses polling and says so when Primero refuses the search (403: the role may not list cases)', async () => {
    nock(PRIMERO).get('/api/v2/cases').query(true).reply((uri) => primeroAnswer('forbidden', uri));
    const poll = poller({ submit: async () => true });
    await expect(poll()).rejects.toThrow(RateLimitError);
    expect(logs.text).toContain('PRIMERO CONFIGURATION FAULT');
    expect(await gw.services.registry.get('primero-poll').getRateLimitTtl()).toBeGreaterThan(50_000);
    expect(await gw.redis.get(gatewayKey(gw.config.QUEUE_PREFIX, 'poll', 'cursor'))).toBeNull();
  });

  it('does not count a quiet window as suspect', async () => {
    offsetPagingPrimero([]);
    const before = (await request(gw.app).get('/metrics')).text.match(/gateway_primero_poll_suspect_total\{[^}]*\} (\d+)/)?.[1] ?? '0';
    await gw.redis.del(gatewayKey(gw.config.QUEUE_PREFIX, 'poll', 'webhook-seen'));
    await poller({ submit: async () => true })();
    const after = (await request(gw.app).get('/metrics')).text.match(/gateway_primero_poll_suspect_total\{[^}]*\} (\d+)/)?.[1] ?? '0';
    expect(after).toBe(before);
  });
});
