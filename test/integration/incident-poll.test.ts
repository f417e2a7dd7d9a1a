import { randomUUID } from 'node:crypto';
import nock from 'nock';
import request from 'supertest';
import webpush from 'web-push';
import type { MappingSet } from '../../src/mappings';
import { gatewayKey } from '../../src/store/keys';
import { startGateway, shippedMappings, uniquePrefix, untilGatewayDrained, WEBHOOK_TOKEN, webPushEnv, type Gateway } from '../support/gateway';
import { PRIMERO } from '../support/primero-fake';
import { eventually } from '../support/eventually';
import { expectNoPersonalData } from '../support/personal-data';
import { FakePushService } from '../../demo/sandbox/push-service';

const RAPIDPRO = 'http://rapidpro.test';
const FLOW = '3f1e7a52-6b0c-4d8e-9a21-5c7b9e0d4f13';
const ADMIN = 'admin-token-incident-poll-1';
const CHILD = { phone: '+250788777666', name: 'Keza Umutoni', words: 'a man at the market follows me home' };

type Row = Record<string, unknown> & { id: string; last_updated_at: string };

/**
 * `GET /api/v2/<index>` as Primero answers the poller: rows whose `last_updated_at` falls in the range (whole seconds,
 * app/models/search_filters/date_value.rb), oldest first, one page. Every call is kept.
 */
function primeroIndex(index: 'cases' | 'incidents', rows: Map<string, Row>): URLSearchParams[] {
  const calls: URLSearchParams[] = [];
  const second = (t: string) => Math.floor(Date.parse(t) / 1000);
  nock(PRIMERO)
    .persist()
    .get(`/api/v2/${index}`)
    .query(true)
    .reply((uri) => {
      const q = new URL(uri, PRIMERO).searchParams;
      calls.push(q);
      const [from, to] = q.get('last_updated_at')!.split('..').map(second) as [number, number];
      const fields = q.get('fields')!.split(',');
      const data = [...rows.values()]
        .filter((r) => second(r.last_updated_at) >= from && second(r.last_updated_at) <= to)
        .sort((a, b) => Date.parse(a.last_updated_at) - Date.parse(b.last_updated_at))
        .map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => fields.includes(k))));
      return [200, { data, metadata: { total: data.length, per: Number(q.get('per')), page: Number(q.get('page')) } }];
    });
  return calls;
}

/** A referral as the shipped referral flow posts it, with a clear yes to consent. */
async function newReferral(gw: Gateway): Promise<{ reference: string; recordId: string }> {
  const res = await request(gw.app)
    .post('/webhooks/rapidpro/referral')
    .set('Authorization', `Token ${WEBHOOK_TOKEN}`)
    .type('json')
    .send({
      contact: { uuid: randomUUID(), urn: `tel:${CHILD.phone}` },
      flow: { uuid: randomUUID() },
      run: { uuid: randomUUID() },
      results: { name: { value: CHILD.name, category: 'All Responses' }, concern: { value: CHILD.words, category: 'All Responses' }, consent: { value: 'Yes', category: 'Yes' } },
    });
  expect(res.status).toBe(202);
  const link = await eventually(() => gw.references.get(res.body.reference));
  return { reference: res.body.reference, recordId: link.caseId };
}

// The scheduled poller itself, every second, as the registration builds it from the loaded mappings.
const POLL_EVERY_SECOND = { PRIMERO_POLL_INTERVAL_SECONDS: '1', PRIMERO_POLL_OVERLAP_SECONDS: '120' };

describe('the poller, where a mapping creates incidents', () => {
  const vapid = webpush.generateVAPIDKeys();
  let gw: Gateway;
  let push: FakePushService;
  const incidents = new Map<string, Row>();
  const cases = new Map<string, Row>();
  const flowStarts: Array<{ params: Record<string, string> }> = [];
  let incidentPolls: URLSearchParams[] = [];

  beforeAll(async () => {
    push = await FakePushService.start(vapid.publicKey);
    nock.disableNetConnect();
    nock.enableNetConnect(/127\.0\.0\.1|localhost/);
    nock(PRIMERO)
      .persist()
      .post('/api/v2/incidents', (b: { data: Record<string, unknown> }) => {
        incidents.set(b.data.id as string, { id: b.data.id as string, short_id: String(b.data.id).slice(-7), owned_by: 'sms_gateway', assigned_user_names: [], status: 'open', last_updated_at: new Date().toISOString() });
        return true;
      })
      .reply(204)
      .get(/\/api\/v2\/incidents\/[0-9a-f-]+(\?.*)?$/)
      .reply((uri) => [200, { data: incidents.get(uri.split('/').pop()!.split('?')[0]!) ?? {} }]);
    primeroIndex('cases', cases);
    incidentPolls = primeroIndex('incidents', incidents);
    nock(RAPIDPRO)
      .persist()
      .get('/api/v2/flows.json')
      .query({ uuid: FLOW })
      .reply(200, { next: null, previous: null, results: [{ uuid: FLOW, name: 'Primero Gateway Case Update', type: 'background', archived: false }] })
      .post('/api/v2/flow_starts.json')
      .reply((_uri, body) => {
        flowStarts.push(body as { params: Record<string, string> });
        return [201, { uuid: randomUUID(), status: 'pending' }];
      });
    const mappings: MappingSet = shippedMappings();
    mappings.set('referral', { ...mappings.get('referral')!, record_type: 'incident' });
    gw = await startGateway({
      prefix: uniquePrefix('incident-poll'),
      mappings,
      env: {
        ADMIN_TOKEN: ADMIN,
        PUBLIC_URL: 'https://gateway.example.org',
        ...POLL_EVERY_SECOND,
        ...webPushEnv(vapid, new URL(push.origin).host),
        PUSH_TTL_SECONDS: '3600',
        RAPIDPRO_URL: RAPIDPRO,
        RAPIDPRO_TOKEN: 'rapidpro-api-token-incident-poll',
        RAPIDPRO_NOTIFY_FLOW_UUID: FLOW,
        RAPIDPRO_RATE_PER_HOUR: '360000',
      },
    });
    const { body } = await request(gw.app).post('/admin/enrollments').set('Authorization', `Bearer ${ADMIN}`).send({ user_name: 'gbv_worker' });
    expect((await request(gw.app).post('/push/subscriptions').send({ enrollment_token: body.token, subscription: push.subscribe('worker-phone'), language: 'eng' })).status).toBe(201);
  });

  afterAll(async () => {
    await gw.close();
    await push.stop();
    nock.cleanAll();
    nock.enableNetConnect();
    expect(push.errors).toEqual([]);
    expectNoPersonalData(gw.logs.text + JSON.stringify(push.deliveries.map((d) => d.plaintext)), [CHILD.name, CHILD.words, CHILD.phone.slice(1)]);
  });

  it('tells the caseworker once, and the person once, of changes to an incident whose webhooks never came', async () => {
    const { reference, recordId } = await newReferral(gw);
    await untilGatewayDrained(gw);
    const alerts = () => push.deliveries.filter((d) => d.device === 'worker-phone' && d.plaintext.includes(recordId));
    const closedMessages = () => flowStarts.filter((f) => f.params.reference === reference && f.params.status === 'closed');

    // Assigned in Primero; its webhook is lost.
    incidents.set(recordId, { ...incidents.get(recordId)!, assigned_user_names: ['gbv_worker'], last_updated_at: new Date().toISOString() });
    await eventually(() => alerts().length === 1, 15000, 'the assignment alert');
    // Later polls read the same change again (the overlap behind the cursor): still one alert.
    const polled = incidentPolls.length;
    await eventually(() => incidentPolls.length >= polled + 2, 10000, 'two more polls');
    await untilGatewayDrained(gw);
    expect(alerts()).toHaveLength(1);

    // Closed; again no webhook.
    incidents.set(recordId, { ...incidents.get(recordId)!, status: 'closed', last_updated_at: new Date(Date.now() + 1000).toISOString() });
    await eventually(() => closedMessages().length === 1, 15000, 'the closed message');
    const again = incidentPolls.length;
    await eventually(() => incidentPolls.length >= again + 2, 10000, 'two more polls');
    await untilGatewayDrained(gw);
    expect(closedMessages()).toHaveLength(1);
    // Nothing else was said to the person: no "in progress" from a workflow incidents do not have.
    expect(flowStarts.filter((f) => f.params.reference === reference).map((f) => f.params.status)).toEqual(['received', 'closed']);
    expect(alerts()).toHaveLength(1);

    // Each type from its own cursor: the cases' where it always was.
    expect(await gw.redis.get(gatewayKey(gw.config.QUEUE_PREFIX, 'poll', 'cursor', 'incident'))).toBe(incidents.get(recordId)!.last_updated_at);
    expect(await gw.redis.get(`${gw.config.QUEUE_PREFIX}:gw:poll:cursor`)).not.toBeNull();
  });
});

describe('the poller, where no mapping creates incidents', () => {
  let gw: Gateway;
  let casePolls: URLSearchParams[] = [];
  const incidentCalls: string[] = [];

  beforeAll(async () => {
    nock.disableNetConnect();
    nock.enableNetConnect(/127\.0\.0\.1|localhost/);
    casePolls = primeroIndex('cases', new Map());
    // Answered, so a call would be seen rather than fail the poll unnoticed.
    nock(PRIMERO)
      .persist()
      .get(/\/api\/v2\/incidents/)
      .reply((uri) => {
        incidentCalls.push(uri);
        return [200, { data: [], metadata: { total: 0 } }];
      });
    gw = await startGateway({ prefix: uniquePrefix('no-incident-poll'), env: POLL_EVERY_SECOND });
  });

  afterAll(async () => {
    await gw.close();
    nock.cleanAll();
    nock.enableNetConnect();
  });

  it('asks Primero for changed cases only', async () => {
    await eventually(() => casePolls.length >= 3, 15000, 'three polls');
    expect(incidentCalls).toEqual([]);
    expect(await gw.redis.get(gatewayKey(gw.config.QUEUE_PREFIX, 'poll', 'cursor', 'incident'))).toBeNull();
  });
});
