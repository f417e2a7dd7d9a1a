import { randomUUID } from 'node:crypto';
import nock from 'nock';
import request from 'supertest';
import { eventually, PRIMERO, startGateway, uniquePrefix, WEBHOOK_TOKEN, type Gateway } from '../support/gateway';
import { primeroWebhookBody, RecordingPrimero } from '../support/primero-fake';

const ADMIN = 'admin-token-webhooks-1';
const KEY = 'primero-webhook-key-2';

// Webhook bodies shaped as Primero's WebhookConnector sends them (test/fixtures/primero): a role whose forms
// permit few fields sends a body without `workflow` or `assigned_user_names`.
describe('Primero webhook bodies that lack fields the diff reads', () => {
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

  const drained = () => eventually(async () => {
    const q = gw.services.registry.get('primero-events');
    const c = await q.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
    return Object.values(c).every((n) => n === 0);
  });

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
    expect(gw.logs.text).not.toContain('Rehema');
    expect(gw.logs.text).not.toContain('Neema');
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

  it('keeps a change it may not read (403 on that case) as a dead letter, and goes on with the others', async () => {
    const hidden = await newCase();
    const other = await newCase();
    primero.forbidden.add(hidden.recordId);
    const events = gw.services.registry.get('primero-events');
    await webhook(primeroWebhookBody('partial', hidden.recordId, primero.change(hidden.recordId, { workflow: 'case_plan' })));
    await webhook(primeroWebhookBody('partial', other.recordId, primero.change(other.recordId, { workflow: 'case_plan' })));
    await eventually(async () => (await timeline(other.reference)).includes('case_in_progress'));
    const [failed] = await eventually(async () => {
      const jobs = await events.getFailed();
      return jobs.length ? jobs : undefined;
    });
    expect(failed!.failedReason).toBe("Primero refused access to the record on the case read (403): it is outside the API user's scope");
    expect(JSON.stringify(failed!.data)).not.toContain('Neema');
  });

  it('diffs a full body without reading the record', async () => {
    const { recordId } = await newCase();
    const at = primero.change(recordId, { status: 'closed' });
    const readsBefore = primero.reads.filter((r) => r.id === recordId).length;
    await webhook(primeroWebhookBody('full', recordId, at, { status: 'closed', workflow: 'closed', assigned_user_names: [] }));
    await drained();
    expect(primero.reads.filter((r) => r.id === recordId)).toHaveLength(readsBefore);
  });
});
