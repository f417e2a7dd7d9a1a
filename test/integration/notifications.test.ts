import { randomUUID } from 'node:crypto';
import nock from 'nock';
import request from 'supertest';
import webpush from 'web-push';
import { PrimeroClient } from '../../src/clients/primero';
import { createLogger } from '../../src/logger';
import { NotificationDispatcher } from '../../src/notifications/dispatcher';
import { SharedCounters } from '../../src/store/counters';
import { PollCursorStore } from '../../src/store/poll-cursor';
import { WebhookSightings } from '../../src/store/webhook-sightings';
import { pollerProcessor } from '../../workers/primero-poll';
import { JOBS } from '../../src/queues/jobs';
import { scrapeMetrics, untilGatewayDrained, startGateway, uniquePrefix, WEBHOOK_TOKEN, type Gateway, webPushEnv } from '../support/gateway';
import { PRIMERO } from '../support/primero-fake';
import { eventually } from '../support/eventually';
import { expectNoPersonalData } from '../support/personal-data';
import { FakePushService } from '../../demo/sandbox/push-service';

const RAPIDPRO = 'http://rapidpro.test';
const FLOW = '7c9d2f3a-1e2b-4c5d-8e9f-0a1b2c3d4e5f';
const ADMIN = 'admin-token-notify-1';
const WEBHOOK_KEY = 'primero-webhook-key-1';
const CHILD = { phone: '+250788444555', name: 'Uwase Ineza', words: 'my aunt keeps me home from school to work' };

interface FlowStartBody {
  flow: string;
  urns: string[];
  params: Record<string, string>;
  exclude_active?: boolean;
}

describe('notifications', () => {
  const PERSONAL_DATA = [CHILD.name, 'Uwase', CHILD.words, CHILD.phone.slice(1)];
  const vapid = webpush.generateVAPIDKeys();
  let gw: Gateway;
  let push: FakePushService;
  const flowStarts: Array<{ body: FlowStartBody; auth: string; at: number }> = [];
  /** Scripted RapidPro answers, taken before the default 201. */
  const rapidproScript: Array<() => [number, unknown, Record<string, string>]> = [];
  const records = new Map<string, Record<string, unknown>>();
  const admin = (r: request.Test) => r.set('Authorization', `Bearer ${ADMIN}`);
  // Everything the gateway logged, pushed or sent to RapidPro.
  const sentOut = () => gw.logs.text + JSON.stringify(push.deliveries.map((d) => d.plaintext)) + JSON.stringify(flowStarts.map((f) => f.body.params));

  async function enroll(user: string, device: string, serverKey?: string): Promise<void> {
    const { body } = await admin(request(gw.app).post('/admin/enrollments').send({ user_name: user }));
    const res = await request(gw.app).post('/push/subscriptions').send({ enrollment_token: body.token, subscription: push.subscribe(device, serverKey), language: 'eng' });
    expect(res.status).toBe(201);
  }

  const primeroWebhook = (data: Record<string, unknown>) =>
    request(gw.app).post('/webhooks/primero').set('x-api-key', WEBHOOK_KEY).set('Content-Type', 'application/json').send(JSON.stringify({ data }));

  /** A referral as the shipped referral flow posts it; consent is a clear yes unless the test says otherwise. */
  async function newReferral(consent: { value: string; category: string } = { value: 'Yes', category: 'Yes' }): Promise<{ reference: string; recordId: string }> {
    const res = await request(gw.app)
      .post('/webhooks/rapidpro/referral')
      .set('Authorization', `Token ${WEBHOOK_TOKEN}`)
      .type('json')
      .send({
        contact: { uuid: randomUUID(), urn: `tel:${CHILD.phone}` },
        flow: { uuid: randomUUID() },
        run: { uuid: randomUUID() },
        results: { name: { value: CHILD.name, category: 'All Responses' }, concern: { value: CHILD.words, category: 'All Responses' }, consent },
      });
    const link = await eventually(() => gw.references.get(res.body.reference));
    return { reference: res.body.reference, recordId: link.caseId };
  }

  beforeAll(async () => {
    push = await FakePushService.start(vapid.publicKey);
    nock.disableNetConnect();
    nock.enableNetConnect(/127\.0\.0\.1|localhost/);
    nock(PRIMERO)
      .persist()
      .post('/api/v2/cases', (b: { data: Record<string, unknown> }) => {
        records.set(b.data.id as string, { ...b.data, case_id_display: `cp-${records.size + 100}`, owned_by: 'sms_gateway', status: 'open', workflow: 'new', last_updated_at: '2026-11-26T10:00:00.000Z' });
        return true;
      })
      .reply(204)
      // With `?fields=`: the caseworker-message detector reads a gateway record's notes on every change.
      .get(/\/api\/v2\/cases\/[0-9a-f-]+(\?.*)?$/)
      .reply((uri) => [200, { data: records.get(uri.split('/').pop()!.split('?')[0]!) ?? {} }]);
    nock(RAPIDPRO)
      .persist()
      // The shipped notify flow, as GET /api/v2/flows.json describes it once imported.
      .get('/api/v2/flows.json')
      .query({ uuid: FLOW })
      .reply(200, { next: null, previous: null, results: [{ uuid: FLOW, name: 'Primero Gateway Case Update', type: 'background', archived: false }] })
      .post('/api/v2/flow_starts.json')
      .reply(function (_uri, body) {
        const scripted = rapidproScript.shift();
        if (scripted) return scripted();
        flowStarts.push({ body: body as FlowStartBody, auth: String(this.req.headers.authorization), at: Date.now() });
        return [201, { uuid: randomUUID(), status: 'pending' }];
      });
    gw = await startGateway({
      prefix: uniquePrefix('notify'),
      env: {
        ADMIN_TOKEN: ADMIN,
        PUBLIC_URL: 'https://gateway.example.org',
        PRIMERO_WEBHOOK_API_KEY: WEBHOOK_KEY,
        PRIMERO_POLL_INTERVAL_SECONDS: '0',
        ...webPushEnv(vapid),
        PUSH_TRIAGE_USERS: 'triage1',
        PUSH_SENSITIVE_USERS: 'psea_fp',
        PUSH_TTL_SECONDS: '3600',
        PUSH_ENDPOINT_HOSTS: new URL(push.origin).host,
        RAPIDPRO_URL: RAPIDPRO,
        RAPIDPRO_TOKEN: 'rapidpro-api-token-1',
        RAPIDPRO_NOTIFY_FLOW_UUID: FLOW,
        RAPIDPRO_RATE_PER_HOUR: '360000',
      },
    });
    await enroll('triage1', 'triage-phone');
    await enroll('cp_worker', 'worker-phone');
  });

  afterAll(async () => {
    await gw.close();
    await push.stop();
    nock.cleanAll();
    nock.enableNetConnect();
    expect(push.errors).toEqual([]);
    // Again after the close, so a `-t` run checks too and lines written during shutdown are read.
    expectNoPersonalData(sentOut(), PERSONAL_DATA);
  });

  it('enrolls a device once per link, and refuses a used or unknown token', async () => {
    const { body } = await admin(request(gw.app).post('/admin/enrollments').send({ user_name: 'cp_worker' }));
    expect(body.url).toBe(`https://gateway.example.org/push?token=${body.token}`);
    const sub = push.subscribe('second-phone');
    expect((await request(gw.app).post('/push/subscriptions').send({ enrollment_token: body.token, subscription: sub })).status).toBe(201);
    const again = await request(gw.app).post('/push/subscriptions').send({ enrollment_token: body.token, subscription: push.subscribe('third-phone') });
    expect(again.status).toBe(403);
    expect(again.body.error.code).toBe('enrollment_invalid');
    expect((await request(gw.app).post('/push/subscriptions').send({ enrollment_token: 'x'.repeat(30), subscription: sub })).status).toBe(403);
    expect((await admin(request(gw.app).post('/admin/enrollments').send({ user_name: 'not valid!' }))).status).toBe(422);
    // The device removes itself, proving it holds the subscription's auth secret.
    expect((await request(gw.app).delete('/push/subscriptions').send({ endpoint: sub.endpoint, keys: { auth: 'wrong' } })).status).toBe(404);
    expect((await request(gw.app).delete('/push/subscriptions').send({ endpoint: sub.endpoint, keys: { auth: sub.keys.auth } })).status).toBe(200);
    expect((await gw.services.notifications.subscriptions.list('cp_worker')).length).toBe(1);
  });

  it('alerts triage about a new referral with what a phone may show, and tells the sender it was received', async () => {
    const { reference, recordId } = await newReferral();
    const delivery = await eventually(() => push.deliveries.find((d) => d.device === 'triage-phone' && d.plaintext.includes(recordId)));
    const shown = JSON.parse(delivery.plaintext);
    expect(shown).toEqual({
      title: 'New referral to triage',
      body: `A new referral (${records.get(recordId)!.case_id_display}) is waiting for triage.`,
      url: `${PRIMERO}/v2/cases/${recordId}`,
      tag: recordId,
      action: 'Open in Primero',
    });
    // The create was one request; the display id was read for the alert, once, and is kept on the link.
    expect((await gw.references.get(reference))!.caseIdDisplay).toBe(records.get(recordId)!.case_id_display);
    expect(delivery.headers.ttl).toBe('3600');
    expect(delivery.headers.urgency).toBe('normal');
    expect(delivery.headers.topic).toMatch(/^[A-Za-z0-9_-]{1,32}$/);
    expect(delivery.claims.sub).toBe('mailto:ops@example.org');

    const start = await eventually(() => flowStarts.find((f) => f.body.params.reference === reference));
    expect(start.auth).toBe('Token rapidpro-api-token-1');
    // A background flow never interrupts, and exclude_active would drop the message for anyone in a flow.
    expect(start.body).toMatchObject({ flow: FLOW, urns: [`tel:${CHILD.phone}`], params: { reference, status: 'received' }, exclude_active: false });
    expect(Object.keys(start.body.params).sort()).toEqual(['reference', 'status']);
  });

  it.each([
    ['said no', { value: 'No', category: 'No' }],
    ['gave an unclear answer', { value: 'maybe later', category: 'Other' }],
  ])('never tells a child who %s to consent that a caseworker will contact them, and still alerts triage', async (_, consent) => {
    const { reference, recordId } = await newReferral(consent);
    await eventually(() => push.deliveries.find((d) => d.device === 'triage-phone' && d.plaintext.includes(recordId)));
    // Notifications are queued before the step is marked: once it is, no flow start can still be on its way.
    await eventually(async () => (await gw.references.get(reference))?.steps.notifiedAt);
    const trace = await admin(request(gw.app).get(`/admin/messages/${reference}`));
    const events = trace.body.timeline.map((e: { event: string }) => e.event);
    expect(events).toContain('push_queued');
    expect(events).not.toContain('flow_start_queued');
    expect(flowStarts.filter((f) => f.body.params.reference === reference)).toEqual([]);
  });

  it('alerts a newly assigned caseworker once, however often Primero sends the same webhook', async () => {
    const { recordId } = await newReferral();
    const change = { record_id: recordId, record_type: 'case', last_updated_at: '2026-11-26T11:00:00.000Z', owned_by: 'sms_gateway', assigned_user_names: ['cp_worker'], status: 'open', workflow: 'new', name_first: 'Uwase' };
    const first = await primeroWebhook(change);
    const second = await primeroWebhook(change);
    expect([first.status, second.status]).toEqual([202, 202]);
    expect(second.body.duplicate).toBe(true);
    await eventually(() => push.deliveries.find((d) => d.device === 'worker-phone' && d.plaintext.includes(recordId)));
    await untilGatewayDrained(gw);
    expect(push.deliveries.filter((d) => d.device === 'worker-phone' && d.plaintext.includes(recordId))).toHaveLength(1);
    expect(JSON.parse(push.deliveries.find((d) => d.plaintext.includes(recordId) && d.device === 'worker-phone')!.plaintext).title).toBe('Case assigned to you');
  });

  it('tells the sender their case is closed once, when the webhook and the poller both see it', async () => {
    const { reference, recordId } = await newReferral();
    const closed = { id: recordId, record_id: recordId, record_type: 'case', last_updated_at: '2026-11-26T12:00:00.000Z', owned_by: 'sms_gateway', assigned_user_names: [], status: 'closed', workflow: 'closed' };
    expect((await primeroWebhook(closed)).status).toBe(202);
    nock(PRIMERO).get('/api/v2/cases').query(true).times(2).reply(200, { data: [closed], metadata: { total: 1 } });
    const poll = pollerProcessor({
      primero: new PrimeroClient({ baseUrl: PRIMERO, user: 'sms_gateway', password: 'secret-password', timeoutMs: 1000 }),
      events: gw.services.notifications.events,
      cursor: new PollCursorStore(gw.redis, gw.config.QUEUE_PREFIX),
      logger: createLogger('silent'),
      initialLookbackMs: 86_400_000,
      overlapMs: 120_000,
      sightings: new WebhookSightings(gw.redis, gw.config.QUEUE_PREFIX),
      counters: new SharedCounters(gw.redis, gw.config.QUEUE_PREFIX),
      queue: gw.services.registry.get('primero-poll'),
      authFailurePauseMs: 1000,
    });
    expect(await poll()).toBe('queued 0');
    await eventually(() => flowStarts.find((f) => f.body.params.reference === reference && f.body.params.status === 'closed'));
    // The next poll starts behind its cursor (the overlap) and reads the same change again: still one message.
    expect(await poll()).toBe('queued 0');
    await untilGatewayDrained(gw);
    expect(flowStarts.filter((f) => f.body.params.reference === reference && f.body.params.status === 'closed')).toHaveLength(1);
    const trace = await admin(request(gw.app).get(`/admin/messages/${reference}`));
    expect(trace.body.timeline.map((e: { event: string }) => e.event)).toEqual(expect.arrayContaining(['record_created', 'push_queued', 'flow_started', 'case_closed']));
  });

  it('still tells the sender their case is closed when the first dispatch of the change failed after it was recorded as seen', async () => {
    const { reference, recordId } = await newReferral();
    // A Redis blip (or a dying worker) between the look's swap and its notifications: the job is retried.
    // Only the close's dispatches are failed and counted: the new case's own alerts may still be on their way.
    const real = NotificationDispatcher.prototype.dispatch;
    let closeDispatches = 0;
    const dispatch = jest.spyOn(NotificationDispatcher.prototype, 'dispatch').mockImplementation(async function (this: NotificationDispatcher, ...args) {
      if (args[1] === reference && args[0].flowStarts.some((f) => f.status === 'closed') && closeDispatches++ === 0) throw new Error('Connection is closed.');
      return real.apply(this, args);
    });
    try {
      const closed = { record_id: recordId, record_type: 'case', last_updated_at: '2026-11-26T14:00:00.000Z', owned_by: 'sms_gateway', assigned_user_names: [], status: 'closed', workflow: 'closed' };
      expect((await primeroWebhook(closed)).status).toBe(202);
      await eventually(() => flowStarts.find((f) => f.body.params.reference === reference && f.body.params.status === 'closed'), 15000);
      await untilGatewayDrained(gw);
      expect(closeDispatches).toBe(2);
      expect(flowStarts.filter((f) => f.body.params.reference === reference && f.body.params.status === 'closed')).toHaveLength(1);
    } finally {
      dispatch.mockRestore();
    }
  });

  it('tells the sender their case is open again when it was reopened while the close\'s dispatch was still unfinished', async () => {
    const { reference, recordId } = await newReferral();
    const look = (at: string, status: string, workflow: string) => ({ record_id: recordId, record_type: 'case', last_updated_at: at, owned_by: 'sms_gateway', assigned_user_names: [], status, workflow });
    await untilGatewayDrained(gw);
    const real = NotificationDispatcher.prototype.dispatch;
    let closes = 0;
    // The close's dispatch sends its message, then fails before it is settled; meanwhile the case is reopened and that
    // change is handled before the close's job is retried.
    const dispatch = jest.spyOn(NotificationDispatcher.prototype, 'dispatch').mockImplementation(async function (this: NotificationDispatcher, ...args) {
      await real.apply(this, args);
      if (!args[0].flowStarts.some((f) => f.status === 'closed') || closes++ > 0) return;
      expect((await primeroWebhook(look('2026-11-26T15:05:00.000Z', 'open', 'new'))).status).toBe(202);
      await eventually(() => flowStarts.find((f) => f.body.params.reference === reference && f.body.params.status === 'in_progress'), 15000);
      throw new Error('Connection is closed.');
    });
    try {
      expect((await primeroWebhook(look('2026-11-26T15:00:00.000Z', 'closed', 'closed'))).status).toBe(202);
      await eventually(() => (closes > 0 ? true : null), 15000);
      await untilGatewayDrained(gw);
      const statuses = flowStarts.filter((f) => f.body.params.reference === reference).map((f) => f.body.params.status);
      // The last word the sender has is the true one: open again.
      expect(statuses.slice(-1)).toEqual(['in_progress']);
      expect(statuses.filter((x) => x === 'closed')).toHaveLength(1);
    } finally {
      dispatch.mockRestore();
    }
  });

  it('waits for Retry-After when a push service answers 429, then delivers', async () => {
    push.answerNext('worker-phone', { status: 429, headers: { 'Retry-After': '1' } });
    const { recordId } = await newReferral();
    await primeroWebhook({ record_id: recordId, record_type: 'case', last_updated_at: '2026-11-26T13:00:00.000Z', owned_by: 'cp_worker', assigned_user_names: ['cp_worker'], status: 'open', workflow: 'new' });
    await eventually(() => push.deliveries.find((d) => d.device === 'worker-phone' && d.plaintext.includes(recordId)), 15000);
    const tries = push.attempts.filter((a) => a.device === 'worker-phone');
    const limited = tries.findIndex((a) => a.status === 429);
    expect(tries[limited + 1]!.at - tries[limited]!.at).toBeGreaterThanOrEqual(950);
  });

  it('delays only the job a push service answered 429, without rate-limiting the push queue', async () => {
    push.answerNext('worker-phone', { status: 429, headers: { 'Retry-After': '3' } });
    const { recordId } = await newReferral();
    await primeroWebhook({ record_id: recordId, record_type: 'case', last_updated_at: '2026-11-26T14:00:00.000Z', owned_by: 'cp_worker', assigned_user_names: ['cp_worker'], status: 'open', workflow: 'new' });
    const limited = await eventually(() => push.attempts.find((a) => a.device === 'worker-phone' && a.status === 429), 15000);
    // At most the per-second limiter's own window; a queue paused for the Retry-After would show about 3000 ms.
    expect(await gw.services.registry.get('push').getRateLimitTtl()).toBeLessThanOrEqual(1000);
    // Another device's push goes out while the limited one waits its Retry-After.
    const { recordId: other } = await newReferral();
    const meanwhile = await eventually(() => push.deliveries.find((d) => d.device === 'triage-phone' && d.plaintext.includes(other)), 15000);
    const retried = await eventually(() => push.deliveries.find((d) => d.device === 'worker-phone' && d.plaintext.includes(recordId)), 15000);
    expect(meanwhile.at).toBeLessThan(retried.at);
    expect(retried.at - limited.at).toBeGreaterThanOrEqual(2950);
  });

  /** A case assigned to `user`, so that their devices are alerted (the referral alerts triage-phone as well). */
  async function assignTo(user: string): Promise<{ reference: string; recordId: string }> {
    const referral = await newReferral();
    await primeroWebhook({ record_id: referral.recordId, record_type: 'case', last_updated_at: '2026-11-26T15:00:00.000Z', owned_by: user, assigned_user_names: [user], status: 'open', workflow: 'new' });
    return referral;
  }

  it("dead-letters only the alert of a device its push service answers 403, without pausing anyone else's alerts", async () => {
    // At 0 before the first refusal, so an alert on its increase sees that one too.
    expect(await scrapeMetrics(gw)).toContain('gateway_push_vapid_refused_total{service="other",status="403"} 0');
    // Subscribed under the gateway's previous VAPID key: the push service answers every send 403, as FCM does.
    await enroll('cp_stale', 'stale-phone', webpush.generateVAPIDKeys().publicKey);
    const [stale] = await gw.services.notifications.subscriptions.list('cp_stale');
    const { reference } = await assignTo('cp_stale');
    const queue = gw.services.registry.get('push');
    const letter = await eventually(async () => (await queue.getFailed()).find((j) => j.data.endpointHash === stale!.endpointHash), 15000);
    expect(letter.failedReason).toMatch(/\(403\): it was most likely made under another VAPID public key/);
    expect(letter.failedReason).toContain(`device ${stale!.endpointHash}: enroll it again, or revoke it`);
    // No pause: at most the per-second limiter's own window (AUTH_FAILURE_PAUSE_MS is 300000 here).
    expect(await queue.getRateLimitTtl()).toBeLessThanOrEqual(1000);
    const { recordId: later } = await newReferral();
    await eventually(() => push.deliveries.find((d) => d.device === 'triage-phone' && d.plaintext.includes(later)), 5000);
    expect(push.attempts.filter((a) => a.device === 'stale-phone').map((a) => a.status)).toEqual([403]);
    // Taken off the list afterAll checks: this refusal is the one the test made.
    expect(push.errors.splice(0)).toEqual(['vapid key differs from the subscription key']);
    const metrics = await admin(request(gw.app).get('/metrics'));
    expect(metrics.text).toContain('gateway_push_vapid_refused_total{service="other",status="403"} 1');
    expect(metrics.text).not.toContain('gateway_push_vapid_refused_total{service="other",status="403"} 0');
    const trace = await admin(request(gw.app).get(`/admin/messages/${reference}`));
    expect(trace.body.timeline.map((e: { event: string }) => e.event)).toEqual(expect.arrayContaining(['push_vapid_refused', 'dead_lettered']));
    const said = gw.logs.lines.filter((l) => l.includes('refused the VAPID signature'));
    expect(said.map((l) => JSON.parse(l) as Record<string, unknown>)).toEqual([expect.objectContaining({ device: stale!.endpointHash, service: 'other', status: 403 })]);
    expect(said.join('')).not.toContain('cp_stale');
  });

  it('dead-letters an alert whose push service keeps answering 429, once it has waited as often as the push catalogue entry allows', async () => {
    await enroll('cp_busy', 'busy-phone');
    const [busy] = await gw.services.notifications.subscriptions.list('cp_busy');
    const starts = gw.config.REPLY_ATTEMPTS + JOBS.push.maxWaits;
    // One more 429 than the cap allows: a job that kept waiting would take it, then the 201 after it.
    push.answerNext('busy-phone', ...Array.from({ length: starts + 1 }, () => ({ status: 429, headers: { 'Retry-After': '0' } })));
    await assignTo('cp_busy');
    const queue = gw.services.registry.get('push');
    const failed = async () => Number((await scrapeMetrics(gw)).match(/gateway_jobs_total\{[^}]*queue="push"[^}]*outcome="failed"[^}]*\} (\d+)/)?.[1] ?? '0');
    const failedBefore = await failed();
    const letter = await eventually(async () => (await queue.getFailed()).find((j) => j.data.endpointHash === busy!.endpointHash), 30000);
    expect(letter.failedReason).toBe('job started more than allowable limit');
    // Counted as the dead letter it is (the alert on dead letters reads this), not as one more retry.
    await eventually(async () => ((await failed()) === failedBefore + 1 ? true : null));
    expect(push.attempts.filter((a) => a.device === 'busy-phone')).toHaveLength(starts);
    expect(push.deliveries.filter((d) => d.device === 'busy-phone')).toEqual([]);
    // A replay starts it afresh (its starts as well as its attempts): it waits the one 429 left, then is delivered.
    expect((await admin(request(gw.app).post(`/admin/dead-letters/push.${letter.id}/replay`))).status).toBe(202);
    await eventually(() => push.deliveries.find((d) => d.device === 'busy-phone'), 15000);
  });

  it('removes a subscription the push service says is gone (410), and logs the device without its user name', async () => {
    const [phone] = await gw.services.notifications.subscriptions.list('triage1');
    push.answerNext('triage-phone', { status: 410 });
    await newReferral();
    await eventually(async () => (await gw.services.notifications.subscriptions.list('triage1')).length === 0);
    const said = await eventually(() => gw.logs.lines.filter((l) => l.includes('push subscription gone')).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.device === phone!.endpointHash));
    expect(said).toMatchObject({ status: 410, removed: true });
    expect(JSON.stringify(said)).not.toContain('triage1');
  });

  const timeline = async (reference: string) => ((await admin(request(gw.app).get(`/admin/messages/${reference}`))).body.timeline as Array<{ event: string }>).map((e) => e.event);

  it.each([
    ['its same endpoint with new keys', 'cp_renewed', 'renewed-phone', 'renewed-phone'],
    ['a new endpoint', 'cp_moved', 'old-phone', 'new-phone'],
  ])("keeps the subscription a caseworker's browser made (%s) while the push service was answering 410 for the old one, and alerts it next", async (_how, user, old, fresh) => {
    await enroll(user, old);
    let renewed: { endpoint: string; keys: { p256dh: string; auth: string } } | undefined;
    // The browser re-subscribes after the worker read the old subscription and before the push service's 410 reaches it.
    push.answerNext(old, {
      status: 410,
      meanwhile: async () => {
        await enroll(user, fresh);
        renewed = (await gw.services.notifications.subscriptions.list(user)).find((d) => d.subscription.endpoint.endsWith(`/${fresh}`))?.subscription;
      },
    });
    const { reference, recordId: first } = await assignTo(user);
    if (old === fresh) {
      // The same device, re-subscribed: the alert the 410 answered reaches it under its new keys, and it is not "gone".
      await eventually(() => push.deliveries.find((d) => d.device === fresh && d.plaintext.includes(first)), 15000);
      expect(await timeline(reference)).not.toContain('push_device_gone');
    } else {
      await eventually(async () => ((await timeline(reference)).includes('push_device_gone') ? true : null));
    }
    expect(renewed).toBeDefined();
    // The stale subscription is gone, the fresh one is kept as it was enrolled.
    expect((await gw.services.notifications.subscriptions.list(user)).map((d) => d.subscription)).toEqual([renewed]);
    const { recordId: later } = await assignTo(user);
    // Decrypted with the fresh keys: the caseworker's browser shows it.
    await eventually(() => push.deliveries.find((d) => d.device === fresh && d.plaintext.includes(later)), 15000);
    expect(push.attempts.filter((a) => a.device === old && a.status === 410)).toHaveLength(1);
  });

  it('delays a flow start RapidPro answers 429 by its Retry-After', async () => {
    const limited: number[] = [];
    rapidproScript.push(() => {
      limited.push(Date.now());
      return [429, { detail: 'Request was throttled.' }, { 'Retry-After': '1' }];
    });
    const { reference } = await newReferral();
    const start = await eventually(() => flowStarts.find((f) => f.body.params.reference === reference), 15000);
    expect(limited).toHaveLength(1);
    expect(start.at - limited[0]!).toBeGreaterThanOrEqual(950);
  });

  it('refuses a Primero webhook without the key, and a body without record_id', async () => {
    expect((await request(gw.app).post('/webhooks/primero').send({ data: {} })).status).toBe(401);
    expect((await primeroWebhook({ last_updated_at: 'x' })).status).toBe(422);
  });

  it('never logs, pushes or sends the personal data it handled', async () => {
    await untilGatewayDrained(gw);
    expectNoPersonalData(sentOut(), PERSONAL_DATA);
  });
});
