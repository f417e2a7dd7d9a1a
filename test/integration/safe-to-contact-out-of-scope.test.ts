import { randomBytes, randomUUID } from 'node:crypto';
import nock from 'nock';
import request from 'supertest';
import webpush from 'web-push';
import { scrapeMetrics, startGateway, uniquePrefix, untilGatewayDrained, WEBHOOK_TOKEN, webPushEnv, type Gateway } from '../support/gateway';
import { PRIMERO, primeroWebhookBody, RecordingPrimero } from '../support/primero-fake';
import { eventually } from '../support/eventually';
import { expectNoPersonalData } from '../support/personal-data';
import { NotificationDispatcher } from '../../src/notifications/dispatcher';

const RAPIDPRO = 'http://rapidpro.test';
const NOTIFY_FLOW = '7c9d2f3a-1e2b-4c5d-8e9f-0a1b2c3d4e5f';
const PRIMERO_KEY = 'primero-webhook-key-safe-scope';
const ADMIN = 'admin-token-safe-scope';
const WORDS = { name: 'Zawadi Achieng', concern: 'my stepfather takes my phone and reads it' };

/**
 * A case referred or transferred to another agency leaves the API user's scope (every read answers 403), and Primero
 * still sends its webhooks. A caseworker there who unticks "safe to contact" (the abuser holds the phone) and closes
 * the case must not have the gateway's "your case is closed" reach that phone.
 */
describe('"safe to contact" on a record the API user can no longer read', () => {
  let gw: Gateway;
  let primero: RecordingPrimero;
  let phones = 0;
  const flowStarts: Array<{ params: Record<string, string> }> = [];
  const startsFor = (reference: string) => flowStarts.filter((f) => f.params.reference === reference).map((f) => f.params.status);
  const timeline = async (reference: string) => (await gw.services.trace.timeline(reference)).map((e) => ({ ...e.detail, event: e.event }));
  const skipped = async () => Number((await scrapeMetrics(gw)).match(/gateway_flow_starts_skipped_total\{reason="unverifiable"\} (\d+)/)?.[1] ?? '0');

  /** A referral with consent and "safe to contact: yes", its "received" message sent. */
  const referral = async () => {
    const contact = { uuid: randomUUID(), urn: `tel:+25472260${String(1000 + phones++)}` };
    const res = await request(gw.app).post('/webhooks/rapidpro/referral').set('Authorization', `Token ${WEBHOOK_TOKEN}`).type('json').send(JSON.stringify({
      contact,
      flow: { uuid: randomUUID() },
      run: { uuid: randomUUID() },
      node: randomUUID(),
      results: {
        name: { value: WORDS.name, category: 'All Responses' },
        concern: { value: WORDS.concern, category: 'All Responses' },
        consent: { value: 'yes', category: 'Yes' },
        safe_to_contact: { value: 'yes', category: 'Yes' },
      },
    }));
    expect(res.status).toBe(202);
    const link = await eventually(async () => {
      const l = await gw.references.get(res.body.reference);
      return l?.steps.notifiedAt ? l : null;
    });
    await eventually(() => (startsFor(link.reference).length === 1 ? true : null));
    expect(link.safeToContact).toBe(true);
    return { reference: link.reference, recordId: link.caseId, contact };
  };
  /** What the person's STATUS keyword flow is answered (flows/status.flow.json's body). */
  const statusOf = async (contact: { uuid: string; urn: string }) => {
    const res = await request(gw.app).post('/webhooks/rapidpro/status').set('Authorization', `Token ${WEBHOOK_TOKEN}`).type('json')
      .send(JSON.stringify({ contact, flow: { uuid: randomUUID(), name: 'Primero Gateway Status' }, reference: '' }));
    expect(res.status).toBe(200);
    return res.body as { reference: string | null; status: string };
  };
  const unreadableCount = async () => Number((await scrapeMetrics(gw)).match(/gateway_safe_to_contact_unreadable_total\{record_type="case"\} (\d+)/)?.[1] ?? '0');

  /**
   * The case changes in Primero (another agency's worker takes it), and Primero's webhook posts what its role may
   * read: `bodyHasSafe` false is a webhook role that may not read the field.
   */
  const changeInPrimero = async (recordId: string, fields: Record<string, unknown>, bodyHasSafe = true, drained = true) => {
    const at = primero.change(recordId, fields);
    const record = { ...primero.records.get(recordId)! };
    if (!bodyHasSafe) delete record.safe_to_contact;
    const body = primeroWebhookBody('full', recordId, at, record);
    if (!bodyHasSafe) delete body.data.safe_to_contact;
    expect((await request(gw.app).post('/webhooks/primero').set('x-api-key', PRIMERO_KEY).type('json').send(JSON.stringify(body))).status).toBe(202);
    if (drained) await untilGatewayDrained(gw);
  };
  const transferredAndClosed = { owned_by: 'other_agency_worker', assigned_user_names: ['other_agency_worker'], status: 'closed', workflow: 'closed' };
  const pushedTo = async (reference: string, user: string) =>
    (await timeline(reference)).some((e) => e.event === 'push_queued' && (e as { user?: string }).user === user);

  beforeAll(async () => {
    nock.disableNetConnect();
    nock.enableNetConnect(/127\.0\.0\.1|localhost/);
    primero = new RecordingPrimero(PRIMERO);
    nock(RAPIDPRO).persist()
      .get('/api/v2/flows.json').query({ uuid: NOTIFY_FLOW })
      .reply(200, { next: null, previous: null, results: [{ uuid: NOTIFY_FLOW, name: 'Primero Gateway Case Update', type: 'background', archived: false }] })
      .post('/api/v2/flow_starts.json')
      .reply((_uri, body) => {
        flowStarts.push(body as never);
        return [201, { uuid: randomUUID(), status: 'pending' }];
      });
    gw = await startGateway({
      prefix: uniquePrefix('safe-scope'),
      env: {
        ADMIN_TOKEN: ADMIN,
        // Sealed at rest, as a deployment runs: the body's answers are sealed in the job.
        DATA_KEY: randomBytes(32).toString('base64'),
        PRIMERO_WEBHOOK_API_KEY: PRIMERO_KEY,
        PRIMERO_POLL_INTERVAL_SECONDS: '0',
        RAPIDPRO_URL: RAPIDPRO,
        RAPIDPRO_TOKEN: 'rp-token',
        RAPIDPRO_NOTIFY_FLOW_UUID: NOTIFY_FLOW,
        RAPIDPRO_RATE_PER_HOUR: '360000',
        ...webPushEnv(webpush.generateVAPIDKeys()),
      },
    });
  });

  afterAll(async () => {
    await gw.close();
    nock.cleanAll();
    nock.enableNetConnect();
    expectNoPersonalData(gw.logs.text, Object.values(WORDS));
  });

  it('out of scope, the body saying not safe: no "closed" message, the link lowered, the caseworker still alerted', async () => {
    const r = await referral();
    primero.forbidden.add(r.recordId);
    await changeInPrimero(r.recordId, { ...transferredAndClosed, safe_to_contact: false });
    expect(primero.reads.some((read) => read.id === r.recordId && read.fields?.includes('safe_to_contact'))).toBe(true);
    expect((await gw.references.get(r.reference))!.safeToContact).toBe(false);
    expect(startsFor(r.reference)).toEqual(['received']);
    expect((await timeline(r.reference)).map((e) => e.event)).toContain('case_closed');
    expect(await pushedTo(r.reference, 'other_agency_worker')).toBe(true);
  });

  it('out of scope, the body without the field: no "closed" message, traced as held back and counted as unverifiable; the link kept as it was', async () => {
    const r = await referral();
    const before = await skipped();
    primero.forbidden.add(r.recordId);
    await changeInPrimero(r.recordId, transferredAndClosed, false);
    expect(startsFor(r.reference)).toEqual(['received']);
    expect(await timeline(r.reference)).toContainEqual({ event: 'flow_start_skipped', status: 'closed', reason: 'held_back' });
    expect(await skipped()).toBe(before + 1);
    expect((await gw.references.get(r.reference))!.safeToContact).toBe(true);
    expect(await pushedTo(r.reference, 'other_agency_worker')).toBe(true);
  });

  it('out of scope, the body saying safe: the body is Primero\'s word on the answer, and "closed" goes out', async () => {
    const r = await referral();
    primero.forbidden.add(r.recordId);
    await changeInPrimero(r.recordId, transferredAndClosed);
    await eventually(() => (startsFor(r.reference).length === 2 ? true : null));
    expect(startsFor(r.reference)).toEqual(['received', 'closed']);
    expect((await timeline(r.reference)).map((e) => e.event)).not.toContain('flow_start_skipped');
  });

  it('never raises a no from a body: out of scope, a body saying safe after one saying not safe sends nothing', async () => {
    const r = await referral();
    primero.forbidden.add(r.recordId);
    await changeInPrimero(r.recordId, { owned_by: 'other_agency_worker', assigned_user_names: ['other_agency_worker'], workflow: 'case_plan', safe_to_contact: false });
    await changeInPrimero(r.recordId, { status: 'closed', workflow: 'closed', safe_to_contact: true });
    expect((await gw.references.get(r.reference))!.safeToContact).toBe(false);
    expect(startsFor(r.reference)).toEqual(['received']);
  });

  it('in scope, as before: the body without the field, the gateway reads it, and the messages go out', async () => {
    const r = await referral();
    const before = await skipped();
    await changeInPrimero(r.recordId, { workflow: 'case_plan', owned_by: 'cp_worker' }, false);
    await changeInPrimero(r.recordId, { status: 'closed', workflow: 'closed' }, false);
    await eventually(() => (startsFor(r.reference).length === 3 ? true : null));
    expect(startsFor(r.reference)).toEqual(['received', 'in_progress', 'closed']);
    expect(await skipped()).toBe(before);
    expect((await gw.references.get(r.reference))!.safeToContact).toBe(true);
  });

  it('in scope: a caseworker\'s untick the gateway reads (the body without the field) still silences it', async () => {
    const r = await referral();
    await changeInPrimero(r.recordId, { ...transferredAndClosed, owned_by: 'cp_worker', assigned_user_names: ['cp_worker'], safe_to_contact: false }, false);
    expect((await gw.references.get(r.reference))!.safeToContact).toBe(false);
    expect(startsFor(r.reference)).toEqual(['received']);
    expect(await pushedTo(r.reference, 'cp_worker')).toBe(true);
  });

  it('in scope, the API user\'s role no longer reads a field it read before: no status message on the body\'s silence, warned and counted', async () => {
    const r = await referral();
    await changeInPrimero(r.recordId, { workflow: 'case_plan', owned_by: 'cp_worker', assigned_user_names: ['cp_worker'] }, false);
    await eventually(() => (startsFor(r.reference).length === 2 ? true : null));
    const before = { skipped: await skipped(), unreadable: await unreadableCount() };
    primero.unreadable.set(r.recordId, ['safe_to_contact']);
    await changeInPrimero(r.recordId, { status: 'closed', workflow: 'closed' }, false);
    expect(startsFor(r.reference)).toEqual(['received', 'in_progress']);
    expect(await timeline(r.reference)).toContainEqual({ event: 'flow_start_skipped', status: 'closed', reason: 'held_back' });
    expect(await skipped()).toBe(before.skipped + 1);
    await eventually(async () => ((await unreadableCount()) > before.unreadable ? true : null));
    expect(gw.logs.text).toContain("the safe-to-contact field is missing from this record's read");
    // The webhook role may read it: the body's yes confirms the answer, and the next close goes out (the reopen's
    // "in progress" was sent once already).
    await changeInPrimero(r.recordId, { status: 'open', workflow: 'case_plan' });
    await changeInPrimero(r.recordId, { status: 'closed', workflow: 'closed' });
    await eventually(() => (startsFor(r.reference).length === 3 ? true : null));
    expect(startsFor(r.reference)).toEqual(['received', 'in_progress', 'closed']);
  });

  it('a field Primero never showed (the role may not write it, so the create dropped the answer) is warned of, and notified as an unknown', async () => {
    const r = await referral();
    const before = await unreadableCount();
    primero.unreadable.set(r.recordId, ['safe_to_contact']);
    await changeInPrimero(r.recordId, { workflow: 'case_plan', owned_by: 'cp_worker', assigned_user_names: ['cp_worker'] }, false);
    await eventually(() => (startsFor(r.reference).length === 2 ? true : null));
    expect(startsFor(r.reference)).toEqual(['received', 'in_progress']);
    await eventually(async () => ((await unreadableCount()) > before ? true : null));
    expect(await statusOf(r.contact)).toEqual({ reference: r.reference, status: 'in_progress' });
  });

  it('a STATUS answer leaves out a record whose last look could not confirm the answer, and names it again once one does', async () => {
    const r = await referral();
    expect(await statusOf(r.contact)).toEqual({ reference: r.reference, status: 'received' });
    primero.forbidden.add(r.recordId);
    await changeInPrimero(r.recordId, { owned_by: 'other_agency_worker', assigned_user_names: ['other_agency_worker'], workflow: 'case_plan' }, false);
    expect(await statusOf(r.contact)).toEqual({ reference: null, status: 'none' });
    await changeInPrimero(r.recordId, { workflow: 'services' });
    expect(await statusOf(r.contact)).toEqual({ reference: r.reference, status: 'in_progress' });
  });

  it('holds back a status message planned before a look that could not confirm the answer, when it is sent', async () => {
    const r = await referral();
    const notify = gw.services.registry.get('rapidpro-notify');
    await notify.pause();
    try {
      await changeInPrimero(r.recordId, { workflow: 'case_plan', owned_by: 'cp_worker', assigned_user_names: ['cp_worker'] }, true, false);
      await eventually(async () => ((await notify.getWaitingCount()) > 0 ? true : null));
      primero.forbidden.add(r.recordId);
      await changeInPrimero(r.recordId, { owned_by: 'other_agency_worker', assigned_user_names: ['other_agency_worker'] }, false, false);
      // Traced once the look is swapped in, before its own notifications.
      await eventually(async () => (await timeline(r.reference)).find((e) => e.event === 'case_assigned' && (e as { user?: string }).user === 'other_agency_worker'));
    } finally {
      await notify.resume();
    }
    await untilGatewayDrained(gw);
    expect(startsFor(r.reference)).toEqual(['received']);
    expect(await timeline(r.reference)).toContainEqual({ event: 'flow_start_skipped', status: 'in_progress', reason: 'held_back' });
  });

  /** The record's next dispatch fails once (a Redis blip after the swap), `meanwhile` running first: the job is retried. */
  const failingFirstDispatch = (reference: string, meanwhile: () => void) => {
    const real = NotificationDispatcher.prototype.dispatch;
    let failed = false;
    return jest.spyOn(NotificationDispatcher.prototype, 'dispatch').mockImplementation(async function (this: NotificationDispatcher, ...args) {
      if (args[1] !== reference || failed) return real.apply(this, args);
      failed = true;
      meanwhile();
      throw new Error('Connection is closed.');
    });
  };

  it('a retry of a look\'s dispatch that now cannot confirm the answer holds its status message and keeps the record out of STATUS', async () => {
    const r = await referral();
    const dispatch = failingFirstDispatch(r.reference, () => primero.forbidden.add(r.recordId));
    try {
      await changeInPrimero(r.recordId, { ...transferredAndClosed, owned_by: 'cp_worker', assigned_user_names: ['cp_worker'] }, false);
    } finally {
      dispatch.mockRestore();
    }
    expect(startsFor(r.reference)).toEqual(['received']);
    expect(await timeline(r.reference)).toContainEqual({ event: 'flow_start_skipped', status: 'closed', reason: 'held_back' });
    expect(await statusOf(r.contact)).toEqual({ reference: null, status: 'none' });
  });

  it('a retry of a look\'s dispatch that could not confirm the answer, once the record is readable again and says safe, sends its status message and names it in STATUS', async () => {
    const r = await referral();
    primero.forbidden.add(r.recordId);
    const dispatch = failingFirstDispatch(r.reference, () => primero.forbidden.delete(r.recordId));
    try {
      await changeInPrimero(r.recordId, { ...transferredAndClosed, owned_by: 'cp_worker', assigned_user_names: ['cp_worker'] }, false);
    } finally {
      dispatch.mockRestore();
    }
    await eventually(() => (startsFor(r.reference).length === 2 ? true : null));
    expect(startsFor(r.reference)).toEqual(['received', 'closed']);
    expect(await statusOf(r.contact)).toEqual({ reference: r.reference, status: 'closed' });
  });

  it('keeps the body\'s answer sealed in the stored job: no copy of Redis tells whose phone is not safe', async () => {
    const r = await referral();
    const events = gw.services.registry.get('primero-events');
    await events.pause();
    try {
      const at = primero.change(r.recordId, { safe_to_contact: false });
      const body = primeroWebhookBody('full', r.recordId, at, { ...primero.records.get(r.recordId)!, safe_to_contact: false });
      expect((await request(gw.app).post('/webhooks/primero').set('x-api-key', PRIMERO_KEY).type('json').send(JSON.stringify(body))).status).toBe(202);
      const waiting = (await events.getWaiting()).find((j) => (j.data as { recordId?: string }).recordId === r.recordId)!;
      const raw = (await gw.redis.hget(`${events.qualifiedName}:${waiting.id}`, 'data'))!;
      expect(raw).toContain('"sealed"');
      expect(raw).not.toContain('"safe"');
    } finally {
      await events.resume();
      await untilGatewayDrained(gw);
    }
    expect((await gw.references.get(r.reference))!.safeToContact).toBe(false);
  });

  it('puts none of the words it was sent in any log line, trace or metric', async () => {
    await untilGatewayDrained(gw);
    expectNoPersonalData(gw.logs.text, Object.values(WORDS));
    expectNoPersonalData(await scrapeMetrics(gw), Object.values(WORDS));
  });
});
