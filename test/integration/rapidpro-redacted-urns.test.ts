import { randomUUID } from 'node:crypto';
import nock from 'nock';
import request from 'supertest';
import { startGateway, uniquePrefix, untilGatewayDrained, WEBHOOK_TOKEN, type Gateway } from '../support/gateway';
import { PRIMERO, RecordingPrimero } from '../support/primero-fake';
import { eventually } from '../support/eventually';
import { expectNoPersonalData } from '../support/personal-data';

/** What goflow posts as `contact.urn` for every contact of a workspace whose redaction policy is `urns`. */
const REDACTED = 'tel:********';
const WORDS = { amina: 'my uncle hits me every night', baraka: 'the teacher beats us', aminaLater: 'the water point is broken again' };

describe('anonymous (URN-redacting) RapidPro workspace: every contact is tel:********', () => {
  let gw: Gateway;
  let primero: RecordingPrimero;
  const answers: string[] = [];
  const post = async (route: string, body: unknown) => {
    const res = await request(gw.app).post(`/webhooks/rapidpro/${route}`).set('Authorization', `Token ${WEBHOOK_TOKEN}`).type('json').send(JSON.stringify(body));
    answers.push(JSON.stringify(res.body));
    return res;
  };
  const contact = () => ({ uuid: randomUUID(), urn: REDACTED, name: '' });
  const run = () => ({ flow: { uuid: randomUUID() }, run: { uuid: randomUUID() }, node: randomUUID() });
  const referral = (who: object, words: string) => ({ contact: who, ...run(), results: { concern: { value: words, category: 'All Responses' }, consent: { value: 'yes', category: 'Yes' } } });
  const complaint = (who: object, words: string) => ({
    contact: who,
    ...run(),
    results: { category: { value: '1', category: 'complaint' }, description: { value: words, category: 'All Responses' }, safe_to_contact: { value: 'yes', category: 'Yes' } },
  });
  const file = async (route: string, body: unknown) => {
    const res = await post(route, body);
    expect(res.status).toBe(202);
    const link = await eventually(() => gw.references.get(res.body.reference));
    return { reference: res.body.reference as string, recordId: link.caseId };
  };
  const recordText = (id: string) => JSON.stringify(primero.records.get(id));

  beforeAll(async () => {
    nock.disableNetConnect();
    nock.enableNetConnect(/127\.0\.0\.1|localhost/);
    primero = new RecordingPrimero(PRIMERO);
    gw = await startGateway({ prefix: uniquePrefix('rp-redacted'), env: { PRIMERO_POLL_INTERVAL_SECONDS: '0' } });
  });

  afterAll(async () => {
    await gw.close();
    nock.cleanAll();
    nock.enableNetConnect();
  });

  it('STATUS tells each contact only their own report, never the other tel:******** contact\'s', async () => {
    const amina = contact();
    const baraka = contact();
    const hers = await file('referral', referral(amina, WORDS.amina));
    expect((await gw.references.get(hers.reference))!.urn).toBeNull();
    expect((await post('status', { contact: baraka, flow: { uuid: randomUUID() }, reference: '' })).body).toEqual({ reference: null, status: 'none' });
    expect((await post('status', { contact: baraka, reference: hers.reference })).body).toEqual({ reference: null, status: 'none' });
    expect((await post('status', { contact: amina, reference: '' })).body).toEqual({ reference: hers.reference, status: 'received' });
  });

  it("a message from another tel:******** contact is not a follow-up on someone else's open case", async () => {
    const amina = contact();
    const baraka = contact();
    const hers = await file('referral', referral(amina, WORDS.amina));
    const his = await post('message', { contact: baraka, flow: { uuid: randomUUID() }, input: WORDS.baraka, results: {} });
    expect(his.status).toBe(202);
    expect(his.body).toMatchObject({ follow_up: false });
    expect(his.body.reference).not.toBe(hers.reference);
    await untilGatewayDrained(gw);
    expect(recordText(hers.recordId)).not.toContain(WORDS.baraka);
    // Her own later message still joins her case: the contact UUID identifies her.
    const again = await post('message', { contact: amina, flow: { uuid: randomUUID() }, input: WORDS.aminaLater, results: {} });
    expect(again.body).toMatchObject({ reference: hers.reference, follow_up: true });
  });

  it("a second contact's complaint in the merge window gets its own record and its own reference in the acknowledgement", async () => {
    const amina = contact();
    const baraka = contact();
    const hers = await file('feedback', complaint(amina, WORDS.amina));
    const his = await file('feedback', complaint(baraka, WORDS.baraka));
    expect(his.reference).not.toBe(hers.reference);
    expect(his.recordId).not.toBe(hers.recordId);
    await untilGatewayDrained(gw);
    expect(recordText(hers.recordId)).not.toContain(WORDS.baraka);
    // Her own second complaint still merges into her first.
    const later = await post('feedback', complaint(amina, WORDS.aminaLater));
    expect(later.body).toMatchObject({ reference: hers.reference });
    await untilGatewayDrained(gw);
    expect(recordText(hers.recordId)).toContain(WORDS.aminaLater);
  });

  it('puts none of the words it was sent in any answer or log line', async () => {
    await untilGatewayDrained(gw);
    expectNoPersonalData(answers, Object.values(WORDS));
    expectNoPersonalData(gw.logs.text, Object.values(WORDS));
  });
});
