import { randomUUID } from 'node:crypto';
import nock from 'nock';
import request from 'supertest';
import { startGateway, uniquePrefix, WEBHOOK_TOKEN, type Gateway, scrapeMetrics, untilGatewayDrained } from '../support/gateway';
import { eventually, untilDrained } from '../support/eventually';
import { expectNoPersonalData } from '../support/personal-data';
import { PrimeroClient } from '../../src/clients/primero';
import { createLogger } from '../../src/logger';
import { SharedCounters } from '../../src/store/counters';
import { gatewayKey } from '../../src/store/keys';
import { PollCursorStore } from '../../src/store/poll-cursor';
import { WebhookSightings } from '../../src/store/webhook-sightings';
import { pollerProcessor } from '../../workers/primero-poll';
import { PRIMERO, primeroWebhookBody, RecordingPrimero } from '../support/primero-fake';

const ADMIN = 'admin-token-webhooks-1';
const KEY = 'primero-webhook-key-2';

// Webhook bodies shaped as Primero's WebhookConnector sends them (test/fixtures/primero): a role whose forms
// permit few fields sends a body without `workflow` or `assigned_user_names`.
describe('Primero webhook bodies that lack fields the diff reads', () => {
  const PERSONAL_DATA = ['Rehema', 'Neema'];
  let gw: Gateway;
  let primero: RecordingPrimero;
  const admin = (r: request.Test) => r.set('Authorization', `Bearer ${ADMIN}`);
  const webhook = (body: unknown) => request(gw.app).post('/webhooks/primero').set('x-api-key', KEY).type('json').send(JSON.stringify(body));
  const timeline = async (reference: string): Promise<string[]> =>
    (await admin(request(gw.app).get(`/admin/messages/${reference}`))).body.timeline.map((e: { event: string; user?: string }) => e.event);

  async function newCase(): Promise<{ reference: string; recordId: string }> {
    const res = await request(gw.app)
      .post('/webhooks/rapidpro/referral')
      .set('Authorization', `Token ${WEBHOOK_TOKEN}`)
      .type('json')
      .send({ contact: { uuid: randomUUID(), urn: 'tel:+255700333444' }, flow: { uuid: randomUUID() }, run: { uuid: randomUUID() }, results: { name: { value: 'Rehema', category: 'All Responses' } } });
    const link = await eventually(() => gw.references.get(res.body.reference));
    return { reference: res.body.reference, recordId: link.caseId };
  }

  const metric = async (name: string, reason?: string): Promise<number> =>
    Number((await scrapeMetrics(gw)).match(new RegExp(`${name}\\{${reason ? `reason="${reason}"` : '[^}]*'}\\} (\\d+)`))?.[1] ?? '0');
  const drained = () => untilDrained(gw.services.registry.get('primero-events'));

  beforeAll(async () => {
    nock.disableNetConnect();
    nock.enableNetConnect(/127\.0\.0\.1|localhost/);
    primero = new RecordingPrimero(PRIMERO);
    gw = await startGateway({ prefix: uniquePrefix('pwebhooks'), env: { ADMIN_TOKEN: ADMIN, PRIMERO_WEBHOOK_API_KEY: KEY, PRIMERO_POLL_INTERVAL_SECONDS: '0' } });
  });
  afterAll(async () => {
    await gw.close();
    nock.cleanAll();
    nock.enableNetConnect();
    // Again after the close, so a `-t` run checks too and lines written during shutdown are read.
    expectNoPersonalData(gw.logs.text, PERSONAL_DATA);
  });

  it('reads the record before diffing a body without workflow, so "in progress" is seen', async () => {
    const { reference, recordId } = await newCase();
    const at = primero.change(recordId, { workflow: 'case_plan' });
    expect((await webhook(primeroWebhookBody('partial', recordId, at))).status).toBe(202);
    await eventually(async () => (await timeline(reference)).includes('case_in_progress'));
    const read = primero.reads.find((r) => r.id === recordId && r.fields);
    expect(read!.fields).toEqual(expect.arrayContaining(['workflow', 'assigned_user_names', 'owned_by', 'status', 'last_updated_at']));
  });

  it('does not flap an assignment when a partial body comes between two full ones', async () => {
    const { reference, recordId } = await newCase();
    const first = primero.change(recordId, { assigned_user_names: ['cp_worker'], workflow: 'case_plan' });
    await webhook(primeroWebhookBody('full', recordId, first, { case_id_display: primero.records.get(recordId)!.case_id_display }));
    await drained();
    const second = primero.change(recordId, { risk_level: 'high' });
    await webhook(primeroWebhookBody('partial', recordId, second));
    await drained();
    const third = primero.change(recordId, { risk_level: 'low' });
    await webhook(primeroWebhookBody('full', recordId, third, { case_id_display: primero.records.get(recordId)!.case_id_display }));
    await drained();
    expect((await timeline(reference)).filter((e) => e === 'case_assigned')).toHaveLength(1);
  });

  it('lays a body it may not complete (403 on the read: the case is out of scope) over the last look, with no dead letter', async () => {
    const hidden = await newCase();
    const other = await newCase();
    const display = primero.records.get(hidden.recordId)!.case_id_display;
    await webhook(primeroWebhookBody('full', hidden.recordId, primero.change(hidden.recordId, { assigned_user_names: ['cp_worker'], workflow: 'case_plan' }), { case_id_display: display }));
    await drained();
    const before = await metric('gateway_primero_events_out_of_scope_total');
    // Handed to a focal point: the API user may no longer read it, and Primero still sends its webhooks.
    primero.forbidden.add(hidden.recordId);
    const events = gw.services.registry.get('primero-events');
    await webhook(primeroWebhookBody('partial', hidden.recordId, primero.change(hidden.recordId, { status: 'closed' }), { status: 'closed' }));
    await webhook(primeroWebhookBody('partial', other.recordId, primero.change(other.recordId, { workflow: 'case_plan' })));
    await eventually(async () => (await timeline(other.reference)).includes('case_in_progress'));
    await eventually(async () => (await timeline(hidden.reference)).includes('case_closed'));
    await drained();
    expect(await events.getFailedCount()).toBe(0);
    expect(await metric('gateway_primero_events_out_of_scope_total')).toBe(before + 1);
    // The assignee the body lacked is the last look's, not empty: a later full body announces nothing again.
    await webhook(primeroWebhookBody('full', hidden.recordId, primero.change(hidden.recordId, { risk_level: 'low' }), { case_id_display: display, status: 'closed', assigned_user_names: ['cp_worker'] }));
    await drained();
    expect((await timeline(hidden.reference)).filter((e) => e === 'case_assigned')).toHaveLength(1);
  });

  it('takes a field the read lacks too (the API user may not read it) from the last look, never as empty', async () => {
    const { reference, recordId } = await newCase();
    const display = primero.records.get(recordId)!.case_id_display;
    await webhook(primeroWebhookBody('full', recordId, primero.change(recordId, { assigned_user_names: ['cp_worker'], workflow: 'case_plan' }), { case_id_display: display }));
    await drained();
    primero.unreadable.set(recordId, ['assigned_user_names']);
    await webhook(primeroWebhookBody('partial', recordId, primero.change(recordId, { risk_level: 'high' })));
    await drained();
    expect(primero.reads.filter((r) => r.id === recordId && r.fields?.includes('assigned_user_names'))).not.toHaveLength(0);
    primero.unreadable.delete(recordId);
    await webhook(primeroWebhookBody('full', recordId, primero.change(recordId, { risk_level: 'low' }), { case_id_display: display }));
    await drained();
    expect((await timeline(reference)).filter((e) => e === 'case_assigned')).toHaveLength(1);
  });

  it('does not read the record for a partial body older than the look it has', async () => {
    const { recordId } = await newCase();
    const older = primero.change(recordId, { workflow: 'case_plan' }, 1000);
    const newer = primero.change(recordId, { workflow: 'service_provision' });
    await webhook(primeroWebhookBody('full', recordId, newer, { workflow: 'service_provision', assigned_user_names: [] }));
    await drained();
    const readsBefore = primero.reads.filter((r) => r.id === recordId).length;
    await webhook(primeroWebhookBody('partial', recordId, older));
    await drained();
    expect(primero.reads.filter((r) => r.id === recordId)).toHaveLength(readsBefore);
  });

  it('counts as announced only changes to cases the API user can read, so an out-of-scope case cannot make a poll look suspect', async () => {
    nock(PRIMERO).persist().get('/api/v2/cases').query(true).reply(200, { data: [], metadata: { total: 0, per: 1000, page: 1 } });
    const poll = pollerProcessor({
      primero: new PrimeroClient({ baseUrl: PRIMERO, user: 'sms_gateway', password: 'secret-password', timeoutMs: 1000 }),
      events: gw.services.notifications.events,
      cursor: new PollCursorStore(gw.redis, gw.config.QUEUE_PREFIX),
      logger: createLogger('silent'),
      initialLookbackMs: 3_600_000,
      overlapMs: 120_000,
      sightings: new WebhookSightings(gw.redis, gw.config.QUEUE_PREFIX),
      counters: new SharedCounters(gw.redis, gw.config.QUEUE_PREFIX),
      queue: gw.services.registry.get('primero-poll'),
      authFailurePauseMs: 1000,
    });
    const suspect = () => metric('gateway_primero_poll_suspect_total', 'empty_despite_webhooks');
    const before = await suspect();
    // A case of the module the API user was never given: Primero's webhook still announces it.
    const elsewhere = randomUUID();
    primero.forbidden.add(elsewhere);
    await webhook(primeroWebhookBody('partial', elsewhere, new Date(Date.now() - 60_000).toISOString()));
    await drained();
    await poll();
    expect(await suspect()).toBe(before);
    // A case the gateway created and can read: its change is evidence an empty poll is wrong.
    const { recordId } = await newCase();
    const at = primero.change(recordId, { workflow: 'case_plan' }, 5);
    await webhook(primeroWebhookBody('partial', recordId, at));
    await drained();
    await eventually(() => Date.now() > Date.parse(at) + 5);
    await poll();
    expect(await suspect()).toBe(before + 1);
    nock.removeInterceptor({ hostname: 'primero.test', path: '/api/v2/cases', method: 'GET' });
  });

  it('diffs a full body without reading the record', async () => {
    const { recordId } = await newCase();
    const at = primero.change(recordId, { status: 'closed' });
    // The caseworker-message detector reads a gateway record's notes on every change (no body carries them): not a diff read.
    const diffReads = () => primero.reads.filter((r) => r.id === recordId && !r.fields?.includes('notes_section'));
    const readsBefore = diffReads().length;
    await webhook(primeroWebhookBody('full', recordId, at, { status: 'closed', workflow: 'closed', assigned_user_names: [] }));
    await drained();
    expect(diffReads()).toHaveLength(readsBefore);
  });

  it('refuses a record_id that is not a Primero record id with a 422 naming it, so it never reaches an alert link or a key', async () => {
    const res = await webhook({ data: { record_id: '../../admin?x=', record_type: 'case', last_updated_at: new Date().toISOString() } });
    expect(res.status).toBe(422);
    expect(JSON.stringify(res.body)).toContain('record_id');
    expect(JSON.stringify(res.body)).not.toContain('../../admin');
  });

  it('answers a tracing request\'s webhook and stores nothing for it, never reading it as a case', async () => {
    const recordId = randomUUID();
    const res = await webhook({ data: { record_id: recordId, record_type: 'tracing_request', last_updated_at: new Date().toISOString(), owned_by: 'cp_worker', status: 'open' } });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ status: 'ignored', reason: 'record_type_not_followed' });
    await drained();
    expect(await gw.redis.exists(gatewayKey(gw.config.QUEUE_PREFIX, 'snapshot', recordId))).toBe(0);
    expect(primero.reads.filter((r) => r.id === recordId)).toEqual([]);
  });

  it('refuses a last_updated_at that is no time with a 422 naming the field', async () => {
    const res = await webhook({ data: { record_id: randomUUID(), record_type: 'case', last_updated_at: 'yesterday' } });
    expect(res.status).toBe(422);
    expect(JSON.stringify(res.body)).toContain('last_updated_at');
  });

  it('reads from Primero an owner or assignees in the body that are not user names, and still takes the change', async () => {
    const { reference, recordId } = await newCase();
    const at = primero.change(recordId, { workflow: 'case_plan' });
    const body = primeroWebhookBody('full', recordId, at, { case_id_display: primero.records.get(recordId)!.case_id_display });
    const res = await webhook({ data: { ...body.data, owned_by: 'x'.repeat(300), assigned_user_names: ['cp worker'] } });
    expect(res.status).toBe(202);
    await eventually(async () => (await timeline(reference)).includes('case_in_progress'));
    const read = primero.reads.find((r) => r.id === recordId && r.fields);
    expect(read!.fields).toEqual(expect.arrayContaining(['owned_by', 'assigned_user_names']));
  });

  it('never logs the personal data it handled', async () => {
    await untilGatewayDrained(gw);
    expectNoPersonalData(gw.logs.text, PERSONAL_DATA);
  });
});
