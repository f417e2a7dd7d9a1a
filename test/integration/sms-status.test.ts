import { createHmac } from 'node:crypto';
import nock from 'nock';
import request from 'supertest';
import { twilioSignature } from '../../src/channels/twilio/signature';
import { replyText } from '../../src/domain/keywords';
import { referenceFromSequence } from '../../src/domain/reference';
import { gatewayKey } from '../../src/store/keys';
import { shippedKeywords, startGateway, uniquePrefix, untilGatewayDrained, type Gateway } from '../support/gateway';
import { eventually } from '../support/eventually';
import { expectNoPersonalData } from '../support/personal-data';
import { PRIMERO, RecordingPrimero } from '../support/primero-fake';
import { HttpRecorder } from '../support/http-recorder';

const PUBLIC_URL = 'https://gateway.example.org';
const TWILIO_TOKEN = 'twilio-auth-token-0017';
const WEBHOOK_KEY = 'primero-webhook-key-17';
const OWN_NUMBER = '+254700000017';
const WORDS = 'a man at the market follows me home';
const keywords = shippedKeywords();
const NO_REPORT = replyText(keywords, 'eng', 'status_none', null);
const APP_SECRET = 'wa-app-secret-17';

let sid = 0;

/**
 * STATUS <reference> is a question only when the reference has a digit (letters alone read as a report,
 * src/domain/keywords.ts): the sequence number after which the next `length` references all have one.
 */
function startOfDigitRun(length: number): number {
  let start = 0;
  for (let n = 1; n - start <= length; n++) if (!/[0-9]/.test(referenceFromSequence(n))) start = n;
  return start;
}
const messageOf = (xml: string) => /<Message>([\s\S]*)<\/Message>/.exec(xml)?.[1] ?? null;

describe('STATUS by SMS: the sender hears the status of their own reports, and of nobody else\'s', () => {
  const PERSONAL_DATA = [WORDS, '254711700', 'market follows'];
  let gw: Gateway;
  let primero: RecordingPrimero;
  let graph: HttpRecorder;
  let phones = 0;
  const nextPhone = () => `+254711700${String(100 + phones++)}`;

  function sms(from: string, body: string) {
    const params = new URLSearchParams({ MessageSid: `SM${String(++sid).padStart(32, '0')}`, AccountSid: 'AC1', From: from, To: OWN_NUMBER, Body: body, NumMedia: '0' });
    const signature = twilioSignature(TWILIO_TOKEN, `${PUBLIC_URL}/webhooks/twilio/sms`, params);
    return request(gw.app).post('/webhooks/twilio/sms').set('X-Twilio-Signature', signature).type('form').send(params.toString());
  }

  async function referral(from: string): Promise<{ reference: string; caseId: string }> {
    const reference = /reference is ([2-9A-HJ-NP-Z]{8})\./.exec(messageOf((await sms(from, `HELP ${WORDS}`)).text)!)![1]!;
    const link = await eventually(() => gw.references.get(reference));
    await untilGatewayDrained(gw);
    return { reference, caseId: link.caseId };
  }

  const status = async (from: string, text = 'STATUS') => messageOf((await sms(from, text)).text);

  /** A WhatsApp Cloud API text message, signed as Meta signs it; the acknowledgement goes out through `graph`. */
  function whatsapp(waId: string, id: string, text: string) {
    const body = JSON.stringify({
      object: 'whatsapp_business_account',
      entry: [{ id: '8856996819413533', changes: [{ field: 'messages', value: { messaging_product: 'whatsapp', metadata: { phone_number_id: '1234567890' }, messages: [{ from: waId, id, timestamp: '1764150000', type: 'text', text: { body: text } }] } }] }],
    });
    const signature = `sha256=${createHmac('sha256', APP_SECRET).update(body).digest('hex')}`;
    return request(gw.app).post('/webhooks/whatsapp').set('X-Hub-Signature-256', signature).set('Content-Type', 'application/json').send(body);
  }
  const whatsappReply = (waId: string, n: number) =>
    eventually(() => {
      const sent = graph.requests.map((r) => JSON.parse(r.body.toString()) as { to: string; text: { body: string } }).filter((b) => b.to === waId);
      return sent.length >= n ? sent[n - 1]!.text.body : null;
    });

  beforeAll(async () => {
    graph = await HttpRecorder.start({ status: 200, body: '{"messages":[{"id":"wamid.out"}]}' });
    nock.disableNetConnect();
    nock.enableNetConnect(/127\.0\.0\.1|localhost/);
    primero = new RecordingPrimero(PRIMERO);
    gw = await startGateway({
      prefix: uniquePrefix('sms-status'),
      env: {
        PUBLIC_URL,
        TWILIO_AUTH_TOKEN: TWILIO_TOKEN,
        PRIMERO_WEBHOOK_API_KEY: WEBHOOK_KEY,
        PRIMERO_POLL_INTERVAL_SECONDS: '0',
        OWN_ADDRESSES: OWN_NUMBER,
        SENDER_RATE_LIMIT: '6',
        SENDER_RATE_WINDOW_SECONDS: '600',
        WHATSAPP_APP_SECRET: APP_SECRET,
        WHATSAPP_VERIFY_TOKEN: 'verify-token-17',
        WHATSAPP_ACCESS_TOKEN: 'graph-access-token-17',
        WHATSAPP_PHONE_NUMBER_ID: '1234567890',
        WHATSAPP_GRAPH_URL: graph.url,
      },
    });
    await gw.redis.set(gatewayKey(gw.config.QUEUE_PREFIX, 'seq', 'reference'), startOfDigitRun(40));
  });

  afterAll(async () => {
    await gw.close();
    await graph.stop();
    nock.cleanAll();
    nock.enableNetConnect();
    expectNoPersonalData(gw.logs.text, PERSONAL_DATA);
  });

  it('lists the status of each of the sender\'s reports by reference, and stores nothing', async () => {
    const from = nextPhone();
    const first = await referral(from);
    const second = await referral(from);
    // A caseworker starts on the first case: Primero's webhook tells the gateway.
    const at = primero.change(first.caseId, { workflow: 'care_plan', owned_by: 'cp_worker' });
    const data = { id: first.caseId, record_id: first.caseId, record_type: 'case', last_updated_at: at, owned_by: 'cp_worker', assigned_user_names: [], status: 'open', workflow: 'care_plan' };
    expect((await request(gw.app).post('/webhooks/primero').set('x-api-key', WEBHOOK_KEY).type('json').send(JSON.stringify({ data }))).status).toBe(202);
    await untilGatewayDrained(gw);
    const jobs = await gw.queue.getJobCountByTypes('waiting', 'active', 'completed', 'failed', 'delayed');
    const cases = primero.created.length;

    expect(await status(from)).toBe(`Your reports: ${second.reference} received; ${first.reference} in progress`);
    expect(await status(from, `STATUS ${first.reference}`)).toBe(`Your reports: ${first.reference} in progress`);
    expect(await status(from, `status ref ${second.reference.toLowerCase()}`)).toBe(`Your reports: ${second.reference} received`);
    await untilGatewayDrained(gw);
    expect(await gw.queue.getJobCountByTypes('waiting', 'active', 'completed', 'failed', 'delayed')).toBe(jobs);
    expect(primero.created.length).toBe(cases);
  });

  it('answers someone asking about another person\'s reference exactly as if it did not exist', async () => {
    const owner = await referral(nextPhone());
    const asker = nextPhone();
    expect(await status(asker, `STATUS ${owner.reference}`)).toBe(NO_REPORT);
    expect(await status(asker, 'STATUS ZZZZ2222')).toBe(NO_REPORT);
    // With reports of their own, they still hear only of those they asked for and own.
    await referral(asker);
    expect(await status(asker, `STATUS ${owner.reference}`)).toBe(NO_REPORT);
  });

  it('still names a report of a phone whose many newer records it may not name (a volunteer reporting for many children)', async () => {
    const from = nextPhone();
    const own = await referral(from);
    // 45 newer records, all sensitive: never named in an answer, and more than a page of the references read.
    for (let i = 0; i < 45; i++) {
      const reference = referenceFromSequence(50_000_000 + i);
      const link = { reference, recordType: 'case' as const, caseId: `sensitive-${i}-${own.caseId}`, caseIdDisplay: null, urn: `tel:${from}`, channel: 'twilio', intent: 'feedback', sensitive: true, createdAt: new Date().toISOString(), safeToContact: null, steps: {} };
      expect(await gw.references.saveLink(link)).toBeNull();
      await gw.services.contacts.indexReference([`tel:${from}`], reference, 1);
    }
    const answer = await status(from);
    expect(answer).not.toBe(NO_REPORT);
    expect(answer).toContain(own.reference);
  });

  it('says "closed" once the case is closed', async () => {
    const from = nextPhone();
    const { reference, caseId } = await referral(from);
    const at = primero.change(caseId, { status: 'closed', workflow: 'closed' });
    const data = { id: caseId, record_id: caseId, record_type: 'case', last_updated_at: at, owned_by: 'sms_gateway', assigned_user_names: [], status: 'closed', workflow: 'closed' };
    await request(gw.app).post('/webhooks/primero').set('x-api-key', WEBHOOK_KEY).type('json').send(JSON.stringify({ data }));
    await untilGatewayDrained(gw);
    expect(await status(from)).toBe(`Your reports: ${reference} closed`);
  });

  it('never answers our own number, and stops answering a sender over the rate', async () => {
    expect(await status(OWN_NUMBER)).toBeNull();
    const from = nextPhone();
    const answers = [];
    for (let i = 0; i < 7; i++) answers.push(await status(from));
    expect(answers.slice(0, 6)).toEqual(Array(6).fill(NO_REPORT));
    expect(answers[6]).toBeNull();
  });

  it('answers STATUS over WhatsApp the same way, through the Graph API', async () => {
    const waId = '254711700999';
    expect((await whatsapp(waId, 'wamid.ST1', `HELP ${WORDS}`)).status).toBe(200);
    const reference = /reference is ([2-9A-HJ-NP-Z]{8})\./.exec(await whatsappReply(waId, 1))![1]!;
    await eventually(() => gw.references.get(reference));
    await untilGatewayDrained(gw);
    expect((await whatsapp(waId, 'wamid.ST2', 'status')).status).toBe(200);
    expect(await whatsappReply(waId, 2)).toBe(`Your reports: ${reference} received`);
  });

  it('logged none of the personal data it was sent, and no STATUS line names a reference', () => {
    expectNoPersonalData(gw.logs.text, PERSONAL_DATA);
    const statusLines = gw.logs.lines.filter((l) => l.includes('status asked'));
    expect(statusLines.length).toBeGreaterThan(0);
    for (const line of statusLines) expect(JSON.parse(line)).not.toHaveProperty('reference');
  });
});
