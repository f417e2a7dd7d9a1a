import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import nock from 'nock';
import request from 'supertest';
import { scrapeMetrics, startGateway, uniquePrefix, untilGatewayDrained, WEBHOOK_TOKEN, type Gateway } from '../support/gateway';
import { PRIMERO, primeroWebhookBody, RecordingPrimero } from '../support/primero-fake';
import { eventually } from '../support/eventually';
import { expectNoPersonalData } from '../support/personal-data';
import { PrivateRedis } from '../../demo/sandbox/redis-server';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'rapidpro');
const defaultEditorBody = readFileSync(path.join(FIXTURES, 'webhook-body-default-editor.json'), 'utf8');
const legacyBody = readFileSync(path.join(FIXTURES, 'webhook-body-legacy-full.json'), 'utf8');
const PRIMERO_KEY = 'primero-webhook-key-status';
const FLOW = { uuid: '9c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f', name: 'Primero Gateway Status' };

interface Person {
  uuid: string;
  urn: string;
  name: string;
  concern: string;
}

const AMINA: Person = { uuid: randomUUID(), urn: 'tel:+254712000111', name: 'Amina Wanjiru', concern: 'my uncle hits me every night' };
const BARAKA: Person = { uuid: randomUUID(), urn: 'tel:+254712000222', name: 'Baraka Ochieng', concern: 'the teacher beats us' };
const CHIKU: Person = { uuid: randomUUID(), urn: 'tel:+254712000333', name: 'Chiku Ali', concern: 'the aid worker asked for sex for food' };
const NOBODY: Person = { uuid: randomUUID(), urn: 'tel:+254712000444', name: 'Dalia', concern: '' };

const contactOf = (p: Person) => ({ uuid: p.uuid, urn: p.urn, name: p.name, language: 'swa' });

const referral = (p: Person) => ({
  contact: contactOf(p),
  flow: { uuid: randomUUID(), name: 'Primero Gateway Referral' },
  run: { uuid: randomUUID() },
  node: randomUUID(),
  results: {
    name: { value: p.name, category: 'All Responses' },
    concern: { value: p.concern, category: 'All Responses' },
    consent: { value: 'yes', category: 'Yes' },
  },
});

const sensitiveFeedback = (p: Person) => ({
  contact: contactOf(p),
  flow: { uuid: randomUUID() },
  run: { uuid: randomUUID() },
  results: { category: { value: '4', category: 'sea' }, description: { value: p.concern, category: 'All Responses' }, callback: { value: 'no', category: 'No' } },
});

/** What flows/status.flow.json posts: contact, flow and the two words after the keyword (`word_slice`). */
const statusBody = (p: Person, reference = '') => ({ contact: contactOf(p), flow: FLOW, reference });

describe('POST /webhooks/rapidpro/status', () => {
  const PERSONAL_DATA = [AMINA, BARAKA, CHIKU, NOBODY].flatMap((p) => [p.urn, p.urn.slice(5), p.name, ...(p.concern ? [p.concern] : [])])
    .concat(['Grace Mugisha', '250788123123', 'Ryan Lewis', '12024561111', 'Hi there', 'sex for food', WEBHOOK_TOKEN]);
  let gw: Gateway;
  let primero: RecordingPrimero;
  const answers: string[] = [];

  const post = async (route: string, body: unknown) => {
    const res = await request(gw.app).post(`/webhooks/rapidpro/${route}`).set('Authorization', `Token ${WEBHOOK_TOKEN}`).type('json').send(JSON.stringify(body));
    answers.push(JSON.stringify(res.body));
    return res;
  };
  const status = (body: unknown) => post('status', body);
  /** A report filed through the real webhook, once the worker has created its case. */
  const file = async (route: 'referral' | 'feedback', body: unknown) => {
    const res = await post(route, body);
    expect(res.status).toBe(202);
    const link = await eventually(() => gw.references.get(res.body.reference));
    return { reference: res.body.reference as string, recordId: link.caseId };
  };
  /** A caseworker's change in Primero, announced by Primero's webhook as its WebhookConnector sends it. */
  const primeroChanges = async (recordId: string, fields: Record<string, unknown>) => {
    const at = primero.change(recordId, fields);
    const body = primeroWebhookBody('full', recordId, at, { case_id_display: primero.records.get(recordId)!.case_id_display, ...fields });
    expect((await request(gw.app).post('/webhooks/primero').set('x-api-key', PRIMERO_KEY).type('json').send(JSON.stringify(body))).status).toBe(202);
  };
  const untilAnswer = (body: unknown, expected: object) =>
    eventually(async () => {
      const res = await status(body);
      return JSON.stringify(res.body) === JSON.stringify(expected) ? res : undefined;
    });

  let older: { reference: string; recordId: string };
  let newer: { reference: string; recordId: string };

  beforeAll(async () => {
    nock.disableNetConnect();
    nock.enableNetConnect(/127\.0\.0\.1|localhost/);
    primero = new RecordingPrimero(PRIMERO);
    gw = await startGateway({
      prefix: uniquePrefix('rp-status'),
      env: { PRIMERO_WEBHOOK_API_KEY: PRIMERO_KEY, PRIMERO_POLL_INTERVAL_SECONDS: '0', SENSITIVE_MODULE_ID: 'primeromodule-gbv', SENSITIVE_FOCAL_POINT: 'psea_focal_point' },
    });
    older = await file('referral', referral(AMINA));
    newer = await file('referral', referral(AMINA));
  });

  afterAll(async () => {
    await gw.close();
    nock.cleanAll();
    nock.enableNetConnect();
    // Again after the close, so a `-t` run checks too and lines written during shutdown are read.
    expectNoPersonalData(gw.logs.text, PERSONAL_DATA);
  });

  it("answers the contact's most recent report, received, with the reference and status word only", async () => {
    const res = await status(statusBody(AMINA));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ reference: newer.reference, status: 'received' });
  });

  it('follows what caseworkers do in Primero: in progress once the case is worked on, closed once closed', async () => {
    await primeroChanges(newer.recordId, { workflow: 'case_plan', owned_by: 'cp_worker', assigned_user_names: ['cp_worker'] });
    await untilAnswer(statusBody(AMINA), { reference: newer.reference, status: 'in_progress' });
    await primeroChanges(older.recordId, { status: 'closed', workflow: 'closed', assigned_user_names: [] });
    // The most recent is still the one told when no reference is named.
    expect((await status(statusBody(AMINA))).body).toEqual({ reference: newer.reference, status: 'in_progress' });
    await untilAnswer(statusBody(AMINA, older.reference), { reference: older.reference, status: 'closed' });
  });

  it('reads a named reference however it is typed, and from a flow result', async () => {
    const typed = `${older.reference.slice(0, 4).toLowerCase()} ${older.reference.slice(4)}`;
    expect((await status(statusBody(AMINA, typed))).body).toEqual({ reference: older.reference, status: 'closed' });
    expect((await status(statusBody(AMINA, `${older.reference} asante`))).body).toEqual({ reference: older.reference, status: 'closed' });
    const byResult = { contact: contactOf(AMINA), flow: FLOW, results: { reference: { value: older.reference, category: 'All Responses' } } };
    expect((await status(byResult)).body).toEqual({ reference: older.reference, status: 'closed' });
    // Words that name no reference ask, as a bare STATUS does, for the most recent.
    expect((await status(statusBody(AMINA, 'tafadhali sana'))).body).toEqual({ reference: newer.reference, status: 'in_progress' });
  });

  it("never tells another contact about a report that is not theirs: the same answer as no report at all", async () => {
    const theirs = await file('referral', referral(BARAKA));
    const none = { reference: null, status: 'none' };
    expect((await status(statusBody(BARAKA, older.reference))).body).toEqual(none);
    expect((await status(statusBody(NOBODY, older.reference))).body).toEqual(none);
    expect((await status(statusBody(NOBODY, 'ZZZZ2222'))).body).toEqual(none);
    expect((await status(statusBody(NOBODY))).body).toEqual(none);
    // Their own is still theirs.
    expect((await status(statusBody(BARAKA))).body).toEqual({ reference: theirs.reference, status: 'received' });
  });

  it("looks a contact up by its UUID only: a body naming someone's phone number, or mixing two contacts, learns nothing of theirs", async () => {
    const stranger = { uuid: randomUUID(), urn: AMINA.urn };
    expect((await status({ contact: stranger, reference: '' })).body).toEqual({ reference: null, status: 'none' });
    expect((await status({ contact: stranger, reference: newer.reference })).body).toEqual({ reference: null, status: 'none' });
    const baraka = (await status(statusBody(BARAKA))).body;
    expect(baraka.reference).not.toBeNull();
    // Baraka's UUID with Amina's number: Baraka's own answer, and Amina's reference named is not his.
    expect((await status({ contact: { ...contactOf(BARAKA), urn: AMINA.urn } })).body).toEqual(baraka);
    expect((await status({ contact: { ...contactOf(BARAKA), urn: AMINA.urn }, reference: newer.reference })).body).toEqual({ reference: null, status: 'none' });
  });

  it('reads a reference longer than any typed one (a pasted link, a whole message) as none named: the most recent is told, never a refusal', async () => {
    const res = await status(statusBody(AMINA, `${older.reference} ${AMINA.concern.repeat(4)}`));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ reference: newer.reference, status: 'in_progress' });
  });

  it('never tells a sensitive report, even to its reporter (whoever holds the phone may not be them)', async () => {
    const report = await file('feedback', sensitiveFeedback(CHIKU));
    expect((await gw.references.get(report.reference))!.sensitive).toBe(true);
    expect((await status(statusBody(CHIKU))).body).toEqual({ reference: null, status: 'none' });
    expect((await status(statusBody(CHIKU, report.reference))).body).toEqual({ reference: null, status: 'none' });
  });

  it("reads the editor's default body with no Content-Type and the token in the query, and the legacy body", async () => {
    const fromEditor = await file('referral', JSON.parse(defaultEditorBody));
    const res = await request(gw.app).post(`/webhooks/rapidpro/status?token=${WEBHOOK_TOKEN}`).set('Content-Type', '').send(Buffer.from(defaultEditorBody));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ reference: fromEditor.reference, status: 'received' });
    const fromLegacy = await file('referral', JSON.parse(legacyBody));
    expect((await status(JSON.parse(legacyBody))).body).toEqual({ reference: fromLegacy.reference, status: 'received' });
  });

  it('refuses a caller without the gateway token, and says how to send it', async () => {
    const body = JSON.stringify(statusBody(AMINA));
    const missing = await request(gw.app).post('/webhooks/rapidpro/status').type('json').send(body);
    const wrong = await request(gw.app).post('/webhooks/rapidpro/status').set('Authorization', 'Token not-the-token').type('json').send(body);
    const wrongQuery = await request(gw.app).post('/webhooks/rapidpro/status?token=nope').type('json').send(body);
    for (const res of [missing, wrong, wrongQuery]) {
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Token');
      expect(res.body.error.code).toBe('unauthorized');
      expect(JSON.stringify(res.body)).not.toContain(newer.reference);
    }
  });

  it('names what is wrong with a body it cannot read, without repeating it', async () => {
    const send = (raw: string) => request(gw.app).post('/webhooks/rapidpro/status').set('Authorization', `Token ${WEBHOOK_TOKEN}`).type('json').send(raw);
    expect((await send('')).body.error.code).toBe('empty_body');
    expect((await send('{"contact":')).status).toBe(400);
    const cases: Array<[unknown, string]> = [
      [{}, 'contact'],
      [{ contact: { uuid: 'not-a-uuid', urn: AMINA.urn } }, 'contact.uuid'],
      [{ contact: contactOf(AMINA), reference: 12345678 }, 'reference'],
    ];
    for (const [body, field] of cases) {
      const res = await send(JSON.stringify(body));
      expect(res.status).toBe(422);
      expect(res.body.error.code).toBe('invalid_body');
      expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(field);
      expect(JSON.stringify(res.body)).not.toMatch(/254712000111|Amina|uncle/);
    }
  });

  it('counts status look-ups as look-ups, never as received messages (the metric a quiet intake is watched by)', async () => {
    const series = (page: string, name: string, outcome: string) => Number(new RegExp(`^${name}\\{channel="rapidpro",outcome="${outcome}"\\} (\\d+)`, 'm').exec(page)?.[1] ?? 0);
    const before = await scrapeMetrics(gw);
    for (let i = 0; i < 3; i++) expect((await status(statusBody(AMINA))).status).toBe(200);
    expect((await request(gw.app).post('/webhooks/rapidpro/status').type('json').send(JSON.stringify(statusBody(AMINA)))).status).toBe(401);
    const after = await scrapeMetrics(gw);
    expect(series(after, 'gateway_messages_received_total', 'accepted')).toBe(series(before, 'gateway_messages_received_total', 'accepted'));
    expect(series(after, 'gateway_messages_received_total', 'rejected')).toBe(series(before, 'gateway_messages_received_total', 'rejected'));
    expect(series(after, 'gateway_status_queries_total', 'answered') - series(before, 'gateway_status_queries_total', 'answered')).toBe(3);
    expect(series(after, 'gateway_status_queries_total', 'rejected') - series(before, 'gateway_status_queries_total', 'rejected')).toBe(1);
  });

  it('puts no personal data in any answer or log line', async () => {
    await untilGatewayDrained(gw);
    expectNoPersonalData(answers, PERSONAL_DATA);
    expectNoPersonalData(gw.logs.text, PERSONAL_DATA);
  });
});

describe('POST /webhooks/rapidpro/status when Redis is away', () => {
  let redis: PrivateRedis;
  let gw: Gateway;

  beforeAll(async () => {
    redis = await PrivateRedis.start();
    gw = await startGateway({ prefix: uniquePrefix('rp-status-down'), workers: false, env: { REDIS_URL: redis.url, ENQUEUE_TIMEOUT_MS: '300' } });
  });

  afterAll(async () => {
    await gw.close();
    await redis.destroy();
    expectNoPersonalData(gw.logs.text, [AMINA.urn, AMINA.name, WEBHOOK_TOKEN]);
  });

  it('answers 503 (the flow routes to Failure), never "no report", and answers again once Redis is back', async () => {
    const ask = () => request(gw.app).post('/webhooks/rapidpro/status').set('Authorization', `Token ${WEBHOOK_TOKEN}`).type('json').send(JSON.stringify(statusBody(AMINA)));
    expect((await ask()).body).toEqual({ reference: null, status: 'none' });
    await redis.stop();
    const down = await ask();
    expect(down.status).toBe(503);
    expect(down.headers['retry-after']).toBe('5');
    expect(down.body.error.code).toBe('unavailable');
    expect(down.body).not.toHaveProperty('status');
    await redis.boot();
    const back = await eventually(async () => {
      const res = await ask();
      return res.status === 200 ? res : undefined;
    });
    expect(back.body).toEqual({ reference: null, status: 'none' });
  });
});
