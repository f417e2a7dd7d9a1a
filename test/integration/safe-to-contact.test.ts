import { randomUUID } from 'node:crypto';
import nock from 'nock';
import request from 'supertest';
import { startGateway, uniquePrefix, untilGatewayDrained, WEBHOOK_TOKEN, type Gateway } from '../support/gateway';
import { PRIMERO, primeroWebhookBody, RecordingPrimero } from '../support/primero-fake';
import { eventually } from '../support/eventually';
import { expectNoPersonalData } from '../support/personal-data';

const RAPIDPRO = 'http://rapidpro.test';
const NOTIFY_FLOW = '7c9d2f3a-1e2b-4c5d-8e9f-0a1b2c3d4e5f';
const PRIMERO_KEY = 'primero-webhook-key-safe';
const WORDS = { referral: 'my uncle hits me and reads my phone', first: 'the water point is broken', later: 'nobody came to fix it' };
type Answer = 'yes' | 'no' | null;

describe('"is it safe to contact you?": a no silences the gateway', () => {
  let gw: Gateway;
  let primero: RecordingPrimero;
  let phones = 0;
  const flowStarts: Array<{ urns: string[]; params: Record<string, string> }> = [];
  const answers: string[] = [];
  const person = () => ({ uuid: randomUUID(), urn: `tel:+25471170${String(1000 + phones++)}` });
  const post = async (route: string, body: unknown) => {
    const res = await request(gw.app).post(`/webhooks/rapidpro/${route}`).set('Authorization', `Token ${WEBHOOK_TOKEN}`).type('json').send(JSON.stringify(body));
    answers.push(JSON.stringify(res.body));
    return res;
  };
  const safe = (answer: Answer) => (answer ? { safe_to_contact: { value: answer, category: answer === 'yes' ? 'Yes' : 'No' } } : {});
  const run = () => ({ flow: { uuid: randomUUID() }, run: { uuid: randomUUID() }, node: randomUUID() });
  const referral = (contact: object, answer: Answer) => ({
    contact, ...run(), results: { concern: { value: WORDS.referral, category: 'All Responses' }, consent: { value: 'yes', category: 'Yes' }, ...safe(answer) },
  });
  const complaint = (contact: object, words: string, answer: Answer) => ({
    contact, ...run(), results: { category: { value: '1', category: 'complaint' }, description: { value: words, category: 'All Responses' }, ...safe(answer) },
  });
  const file = async (route: string, body: unknown) => {
    const res = await post(route, body);
    expect(res.status).toBe(202);
    const link = await eventually(async () => {
      const l = await gw.references.get(res.body.reference);
      return l?.steps.notifiedAt ? l : null;
    });
    return { reference: res.body.reference as string, recordId: link.caseId };
  };
  const statusOf = async (contact: object, reference = '') => (await post('status', { contact, reference })).body;
  const startsFor = (reference: string) => flowStarts.filter((f) => f.params.reference === reference).map((f) => f.params.status);
  /** A caseworker works on the case, then closes it; Primero's webhook tells the gateway each time. */
  const caseworkerWorksOnThenCloses = async (recordId: string) => {
    for (const fields of [{ workflow: 'case_plan', owned_by: 'cp_worker' }, { status: 'closed', workflow: 'closed' }]) {
      const at = primero.change(recordId, fields);
      const body = primeroWebhookBody('full', recordId, at, { case_id_display: primero.records.get(recordId)!.case_id_display, ...primero.records.get(recordId)!, ...fields });
      expect((await request(gw.app).post('/webhooks/primero').set('x-api-key', PRIMERO_KEY).type('json').send(JSON.stringify(body))).status).toBe(202);
      await untilGatewayDrained(gw);
    }
  };

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
      prefix: uniquePrefix('safe-to-contact'),
      env: { PRIMERO_WEBHOOK_API_KEY: PRIMERO_KEY, PRIMERO_POLL_INTERVAL_SECONDS: '0', RAPIDPRO_URL: RAPIDPRO, RAPIDPRO_TOKEN: 'rp-token', RAPIDPRO_NOTIFY_FLOW_UUID: NOTIFY_FLOW, RAPIDPRO_RATE_PER_HOUR: '360000' },
    });
  });

  afterAll(async () => {
    await gw.close();
    nock.cleanAll();
    nock.enableNetConnect();
    expectNoPersonalData(gw.logs.text, Object.values(WORDS));
  });

  it('a referral that said "not safe" gets no RapidPro message (received, in progress, closed) and is never named by STATUS', async () => {
    const child = person();
    const r = await file('referral', referral(child, 'no'));
    expect(primero.records.get(r.recordId)!.safe_to_contact).toBe(false);
    expect((await gw.references.get(r.reference))!.safeToContact).toBe(false);
    await caseworkerWorksOnThenCloses(r.recordId);
    expect(startsFor(r.reference)).toEqual([]);
    expect(await statusOf(child)).toEqual({ reference: null, status: 'none' });
    expect(await statusOf(child, r.reference)).toEqual({ reference: null, status: 'none' });
  });

  it('a referral that said "safe" is told, and one with no answer is told as before (unknown is not a no)', async () => {
    for (const answer of ['yes', null] as const) {
      const child = person();
      const r = await file('referral', referral(child, answer));
      expect((await gw.references.get(r.reference))!.safeToContact).toBe(answer === 'yes' ? true : null);
      await caseworkerWorksOnThenCloses(r.recordId);
      await eventually(() => (startsFor(r.reference).length === 3 ? true : null));
      expect(startsFor(r.reference)).toEqual(['received', 'in_progress', 'closed']);
      expect(await statusOf(child)).toEqual({ reference: r.reference, status: 'closed' });
    }
  });

  it('a later report merged into the record that says "not safe" unticks the record and silences the gateway from then on', async () => {
    const who = person();
    const first = await file('feedback', complaint(who, WORDS.first, 'yes'));
    expect(primero.records.get(first.recordId)!.safe_to_contact).toBe(true);
    expect(await statusOf(who)).toEqual({ reference: first.reference, status: 'received' });
    const later = await post('feedback', complaint(who, WORDS.later, 'no'));
    expect(later.body.reference).toBe(first.reference);
    await untilGatewayDrained(gw);
    const record = primero.records.get(first.recordId)!;
    expect(record.safe_to_contact).toBe(false);
    expect(JSON.stringify(record.notes_section)).toContain(WORDS.later);
    expect((await gw.references.get(first.reference))!.safeToContact).toBe(false);
    expect(await statusOf(who)).toEqual({ reference: null, status: 'none' });
    await caseworkerWorksOnThenCloses(first.recordId);
    expect(startsFor(first.reference)).toEqual(['received']);
  });

  it('a later report saying "safe" never ticks the record again: not after a no, not after a caseworker unticked it', async () => {
    const saidNo = person();
    const first = await file('feedback', complaint(saidNo, WORDS.first, 'no'));
    await post('feedback', complaint(saidNo, WORDS.later, 'yes'));
    const unticked = person();
    const second = await file('feedback', complaint(unticked, WORDS.first, 'yes'));
    primero.change(second.recordId, { safe_to_contact: false });
    await post('feedback', complaint(unticked, WORDS.later, 'yes'));
    await untilGatewayDrained(gw);
    for (const r of [first, second]) {
      expect(JSON.stringify(primero.records.get(r.recordId)!.notes_section)).toContain(WORDS.later);
      expect(primero.records.get(r.recordId)!.safe_to_contact).toBe(false);
      for (const patch of primero.sent('patch').filter((p) => p.id === r.recordId)) expect(patch.body.data).not.toHaveProperty('safe_to_contact');
    }
    expect((await gw.references.get(first.reference))!.safeToContact).toBe(false);
  });

  it('follows the record when a caseworker unticks "safe to contact" in Primero (no more status messages, no STATUS answer), and a yes the record shows later never undoes that no', async () => {
    const child = person();
    const r = await file('referral', referral(child, 'yes'));
    await eventually(() => (startsFor(r.reference).length === 1 ? true : null));
    const webhook = async (fields: Record<string, unknown>) => {
      const at = primero.change(r.recordId, fields);
      const body = primeroWebhookBody('full', r.recordId, at, { ...primero.records.get(r.recordId)!, ...fields });
      expect((await request(gw.app).post('/webhooks/primero').set('x-api-key', PRIMERO_KEY).type('json').send(JSON.stringify(body))).status).toBe(202);
      await untilGatewayDrained(gw);
    };
    await webhook({ safe_to_contact: false, workflow: 'case_plan', owned_by: 'cp_worker' });
    expect((await gw.references.get(r.reference))!.safeToContact).toBe(false);
    expect(startsFor(r.reference)).toEqual(['received']);
    expect(await statusOf(child)).toEqual({ reference: null, status: 'none' });
    await webhook({ safe_to_contact: true, status: 'closed', workflow: 'closed' });
    expect((await gw.references.get(r.reference))!.safeToContact).toBe(false);
    expect(startsFor(r.reference)).toEqual(['received']);
    expect(await statusOf(child)).toEqual({ reference: null, status: 'none' });
  });

  it('never brings a forgotten link back without an end: a step or an answer written after it was removed writes nothing', async () => {
    const r = await file('referral', referral(person(), 'yes'));
    await gw.references.remove(r.reference);
    await gw.references.mark(r.reference, 'notifiedAt');
    await gw.references.followRecordSafeToContact(r.reference, false, 'safe_to_contact');
    expect(await gw.references.get(r.reference)).toBeNull();
    expect(await gw.redis.exists(`${gw.config.QUEUE_PREFIX}:gw:ref:${r.reference}`)).toBe(0);
  });

  it('puts none of the words it was sent in any answer or log line', async () => {
    await untilGatewayDrained(gw);
    expectNoPersonalData(answers, Object.values(WORDS));
    expectNoPersonalData(gw.logs.text, Object.values(WORDS));
  });
});
