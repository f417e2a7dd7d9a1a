import { readFileSync } from 'node:fs';
import path from 'node:path';
import nock from 'nock';
import request from 'supertest';
import { twilioSignature } from '../../src/channels/twilio/signature';
import { startGateway, uniquePrefix, type Gateway, untilGatewayDrained } from '../support/gateway';
import { eventually } from '../support/eventually';
import { acceptingPrimero } from '../support/primero-fake';
import { expectNoPersonalData } from '../support/personal-data';

const PUBLIC_URL = 'https://gateway.example.org';
const TWILIO_TOKEN = 'twilio-auth-token-0001';
const AT_TOKEN = 'africastalking-token-01';
const SENDER = '+254711000111';

let sid = 0;
function twilioForm(body: string, from = SENDER, extra: Record<string, string> = {}): Record<string, string> {
  sid++;
  return { MessageSid: `SM${String(sid).padStart(32, '0')}`, AccountSid: 'AC1', From: from, To: '+254700000000', Body: body, NumMedia: '0', ...extra };
}

function postTwilio(gw: Gateway, form: Record<string, string>, signature?: string) {
  const params = new URLSearchParams(form);
  const sig = signature ?? twilioSignature(TWILIO_TOKEN, `${PUBLIC_URL}/webhooks/twilio/sms`, params);
  return request(gw.app).post('/webhooks/twilio/sms').set('X-Twilio-Signature', sig).type('form').send(params.toString());
}

/** Bodies shaped like courier's handler tests (see test/fixtures/sms/README.md). */
const form = (name: string) => readFileSync(path.join(__dirname, '..', 'fixtures', 'sms', name), 'utf8').trim();

const messageOf = (xml: string) => /<Message>([\s\S]*)<\/Message>/.exec(xml)?.[1] ?? null;

describe('SMS channels', () => {
  const PERSONAL_DATA = [SENDER, '254711000111', '254711300001', '254711300002', '254711300003', '254711300004', 'nisaidie', 'maji hakuna', 'nipigwa na baba', 'mon oncle me frappe', '254722', '254733', '254799000901', '254788000902', '254711000903', '254711000904', 'baada ya hitilafu'];
  let gw: Gateway;
  let created: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    created = acceptingPrimero('cp-sms');
    gw = await startGateway({
      prefix: uniquePrefix('sms'),
      env: {
        PUBLIC_URL,
        TWILIO_AUTH_TOKEN: TWILIO_TOKEN,
        AFRICASTALKING_WEBHOOK_TOKEN: AT_TOKEN,
        SENDER_RATE_LIMIT: '5',
        SENDER_RATE_WINDOW_SECONDS: '60',
        OWN_ADDRESSES: '+254700000000',
      },
    });
  });

  afterAll(async () => {
    await gw.close();
    nock.cleanAll();
    nock.enableNetConnect();
    // Again after the close, so a `-t` run checks too and lines written during shutdown are read.
    expectNoPersonalData(gw.logs.text, PERSONAL_DATA);
  });

  it('stores a signed Twilio SMS and answers TwiML in the keyword language', async () => {
    const res = await postTwilio(gw, twilioForm('MSAADA nipigwa na baba'));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/xml/);
    const reply = messageOf(res.text)!;
    expect(reply).toMatch(/^Asante, ujumbe wako umetufikia\. Nambari yako ya kumbukumbu ni [2-9A-HJ-NP-Z]{8}\./);
    expect(reply).not.toContain('nipigwa');
    const reference = /ni ([2-9A-HJ-NP-Z]{8})\./.exec(reply)![1]!;
    const link = await eventually(() => gw.references.get(reference));
    expect(link).toMatchObject({ channel: 'twilio', urn: `tel:${SENDER}` });
    const data = created.find((c) => c.other_agency_id === reference)!;
    expect(data.protection_concerns_other).toBe('nipigwa na baba');
    expect(data.telephone_current).toBe(SENDER);
  });

  it('refuses a wrong or missing signature with 403 and stores nothing', async () => {
    const before = await gw.queue.getJobCountByTypes('waiting', 'active', 'completed', 'failed', 'delayed');
    expect((await postTwilio(gw, twilioForm('HELP'), 'bm90IGEgc2lnbmF0dXJl')).status).toBe(403);
    const unsigned = await request(gw.app).post('/webhooks/twilio/sms').type('form').send(new URLSearchParams(twilioForm('HELP')).toString());
    expect(unsigned.status).toBe(403);
    expect(unsigned.body.error.code).toBe('invalid_signature');
    expect(await gw.queue.getJobCountByTypes('waiting', 'active', 'completed', 'failed', 'delayed')).toBe(before);
  });

  it('answers a re-delivery with the same reference and creates nothing new', async () => {
    const form = twilioForm('AIDE mon oncle me frappe', '+254722000222');
    const first = await postTwilio(gw, form);
    const again = await postTwilio(gw, form);
    expect(messageOf(first.text)).toContain('Votre référence est');
    expect(messageOf(again.text)).toBe(messageOf(first.text));
    const reference = /est ([2-9A-HJ-NP-Z]{8})\./.exec(messageOf(first.text)!)![1]!;
    await eventually(() => gw.references.get(reference));
    expect(created.filter((c) => c.other_agency_id === reference)).toHaveLength(1);
  });

  it('turns a message with no keyword into a referral and explains the keywords', async () => {
    const res = await postTwilio(gw, twilioForm('please come my father is drunk', '+254733000333'));
    const reply = messageOf(res.text)!;
    expect(reply).toContain('Send HELP to ask for help');
    const reference = /reference is ([2-9A-HJ-NP-Z]{8})\./.exec(reply)![1]!;
    const link = await eventually(() => gw.references.get(reference));
    expect(link.intent).toBe('referral');
  });

  it('records STOP, stops replying, and replies again after START', async () => {
    const from = '+254744000444';
    const stop = await postTwilio(gw, twilioForm('Stop', from));
    expect(messageOf(stop.text)).toContain('You will not receive more messages');
    const silent = await postTwilio(gw, twilioForm('HELP my brother is missing', from));
    expect(silent.status).toBe(200);
    expect(messageOf(silent.text)).toBeNull();
    expect(await gw.services.contacts.isOptedOut(`tel:${from}`)).toBe(true);
    const start = await postTwilio(gw, twilioForm('START', from));
    expect(messageOf(start.text)).toContain('You will receive messages from us again');
    const answered = await postTwilio(gw, twilioForm('HELP', from));
    expect(messageOf(answered.text)).toContain('Your reference is');
  });

  it('stores every message of a flood but stops answering past the rate', async () => {
    const from = '+254755000555';
    const answers = [];
    for (let i = 0; i < 8; i++) answers.push(await postTwilio(gw, twilioForm(`HELP message ${i}`, from)));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(answers.slice(0, 5).every((a) => messageOf(a.text) !== null)).toBe(true);
    expect(answers.slice(5).every((a) => messageOf(a.text) === null)).toBe(true);
    expect(gw.logs.text).toContain('sender over the rate limit');
  });

  it('never answers its own number or a short code', async () => {
    expect(messageOf((await postTwilio(gw, twilioForm('HELP', '+254700000000'))).text)).toBeNull();
    expect(messageOf((await postTwilio(gw, twilioForm('HELP', '21512'))).text)).toBeNull();
  });

  it("takes Africa's Talking SMS with the callback token and refuses it without", async () => {
    const form = { id: 'ec9adc86-51d5-4bc8-8eb0-d8ab0bb53dc3', text: 'FEEDBACK the office was closed', from: '+254766000666', to: '21512', date: '2017-05-03T06:04:45Z' };
    expect((await request(gw.app).post('/webhooks/africastalking/sms').type('form').send(form)).status).toBe(401);
    expect((await request(gw.app).post('/webhooks/africastalking/sms?token=wrong-token-x').type('form').send(form)).status).toBe(401);
    const ok = await request(gw.app).post(`/webhooks/africastalking/sms?token=${AT_TOKEN}`).type('form').send(form);
    expect(ok.status).toBe(200);
    expect(ok.body.reference).toMatch(/^[2-9A-HJ-NP-Z]{8}$/);
    const again = await request(gw.app).post(`/webhooks/africastalking/sms?token=${AT_TOKEN}`).type('form').send(form);
    expect(again.body).toMatchObject({ reference: ok.body.reference, duplicate: true });
    const missing = await request(gw.app).post(`/webhooks/africastalking/sms?token=${AT_TOKEN}`).type('form').send({ text: 'x' });
    expect(missing.status).toBe(422);
    expect(missing.body.error.details.map((d: { path: string }) => d.path)).toEqual(['id', 'from', 'to']);
  });

  it.each(['twilio-receive.form', 'twilio-whatsapp-receive.form'])("stores %s, every field Twilio posts, as courier's tests send it", async (file) => {
    const body = form(file);
    const params = new URLSearchParams(body);
    const sig = twilioSignature(TWILIO_TOKEN, `${PUBLIC_URL}/webhooks/twilio/sms`, params);
    const res = await request(gw.app).post('/webhooks/twilio/sms').set('X-Twilio-Signature', sig).type('form').send(body);
    expect(res.status).toBe(200);
    const reference = /([2-9A-HJ-NP-Z]{8})\./.exec(messageOf(res.text)!)![1]!;
    const link = await eventually(() => gw.references.get(reference));
    const from = params.get('From')!;
    expect(link).toMatchObject({ channel: 'twilio', urn: from.startsWith('whatsapp:') ? `whatsapp:${from.slice(10).replace('+', '')}` : `tel:${from}` });
  });

  it.each(['africastalking-receive.form', 'africastalking-receive-space-date.form'])("stores %s in both of Africa's Talking's date formats", async (file) => {
    const params = new URLSearchParams(form(file));
    const res = await request(gw.app).post(`/webhooks/africastalking/sms?token=${AT_TOKEN}`).type('form').send(form(file));
    expect(res.status).toBe(200);
    const link = await eventually(() => gw.references.get(res.body.reference));
    expect(link).toMatchObject({ channel: 'africastalking', urn: `tel:${params.get('from')}` });
  });

  it('review of #11, item 3: a stored SMS is answered 200 (without the reply) when the sender counters fail after the store', async () => {
    const spy = jest.spyOn(gw.services.contacts, 'recordInbound').mockRejectedValueOnce(new Error('Connection is closed.'));
    try {
      const f = twilioForm('MSAADA maji hakuna shuleni', '+254722000333');
      const res = await postTwilio(gw, f);
      expect(res.status).toBe(200);
      expect(res.text).toContain('<Response/>');
      // The message is in a case: a 503 would have made Twilio resend a message already stored.
      const stored = await eventually(() => created.find((c) => c.protection_concerns_other === 'maji hakuna shuleni'));
      expect(stored.telephone_current).toBe('+254722000333');
      // And Twilio's own retry of it is a duplicate, not a second case.
      const again = await postTwilio(gw, f);
      expect(again.status).toBe(200);
      expect(messageOf(again.text)).toMatch(/[2-9A-HJ-NP-Z]{8}/);
      expect(created.filter((c) => c.protection_concerns_other === 'maji hakuna shuleni')).toHaveLength(1);
    } finally {
      spy.mockRestore();
    }
  });

  it('answers a signed Twilio status callback empty TwiML and stores nothing (a status-callback URL set to the SMS route)', async () => {
    const before = await gw.queue.getJobCountByTypes('waiting', 'active', 'completed', 'failed', 'delayed');
    const ours = '+254799000901';
    const person = '+254788000902';
    const delivered = { MessageSid: 'SM' + 'd'.repeat(32), AccountSid: 'AC1', From: ours, To: person, MessageStatus: 'delivered', SmsStatus: 'delivered', ApiVersion: '2010-04-01' };
    const sentOnly = { MessageSid: 'SM' + 'e'.repeat(32), AccountSid: 'AC1', From: ours, To: person, SmsStatus: 'sent', ApiVersion: '2010-04-01' };
    for (const callback of [delivered, sentOnly]) {
      const res = await postTwilio(gw, callback);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/xml/);
      expect(res.text).toContain('<Response/>');
    }
    await untilGatewayDrained(gw);
    expect(await gw.queue.getJobCountByTypes('waiting', 'active', 'completed', 'failed', 'delayed')).toBe(before);
    expect(created.filter((c) => c.telephone_current === ours || c.telephone_current === person)).toEqual([]);
    const lines = gw.logs.text.split('\n').filter((l) => l.includes('Twilio status callback'));
    expect(lines.map((l) => JSON.parse(l).status)).toEqual(['delivered', 'sent']);
    expect(lines.join('\n')).not.toMatch(/2547\d{8}/);
    // A message that says it was received is still a message.
    const received = await postTwilio(gw, twilioForm('HELP', '+254711000903', { SmsStatus: 'received' }));
    expect(messageOf(received.text)).toMatch(/[2-9A-HJ-NP-Z]{8}/);
    // So is one still coming in, or with a status Twilio may add later: a child's words are never dropped for a word we do not know.
    for (const [i, status] of ['receiving', 'arrived_somehow'].entries()) {
      const res = await postTwilio(gw, twilioForm('HELP', `+25471100091${i}`, { SmsStatus: status }));
      expect(messageOf(res.text)).toMatch(/[2-9A-HJ-NP-Z]{8}/);
    }
    // The same in MessageStatus: only a known outbound status there is a callback.
    expect(messageOf((await postTwilio(gw, twilioForm('HELP', '+254711000913', { MessageStatus: 'received' }))).text)).toMatch(/[2-9A-HJ-NP-Z]{8}/);
    expect((await postTwilio(gw, twilioForm('HELP', '+254711000914', { MessageStatus: 'read' }))).text).toContain('<Response/>');
  });

  it("takes the message Twilio sends to the fallback URL (the README's setup): ErrorCode and ErrorUrl are signed like the rest", async () => {
    // Twilio signs the URL without its #rc=… fragment, which it never sends: what the gateway checks.
    const fallback = twilioForm('MSAADA baada ya hitilafu', '+254711000904', { SmsStatus: 'received', ErrorCode: '11200', ErrorUrl: `${PUBLIC_URL}/webhooks/twilio/sms#rc=5&rp=ct,rt,5xx` });
    const res = await postTwilio(gw, fallback);
    expect(res.status).toBe(200);
    const reference = /([2-9A-HJ-NP-Z]{8})\./.exec(messageOf(res.text)!)![1]!;
    await eventually(() => gw.references.get(reference));
    expect((await eventually(() => created.find((c) => c.other_agency_id === reference))).protection_concerns_other).toBe('baada ya hitilafu');
  });

  it('answers 400 to an empty Twilio body', async () => {
    const res = await request(gw.app).post('/webhooks/twilio/sms').set('X-Twilio-Signature', 'x');
    expect(res.status).toBe(400);
  });

  it('never logs the personal data it handled', async () => {
    await untilGatewayDrained(gw);
    expectNoPersonalData(gw.logs.text, PERSONAL_DATA);
  });
});

describe('SMS channels without secrets', () => {
  it('answer 404', async () => {
    const gw = await startGateway({ prefix: uniquePrefix('sms-off'), workers: false });
    try {
      expect((await request(gw.app).post('/webhooks/twilio/sms').type('form').send('Body=HELP')).status).toBe(404);
      expect((await request(gw.app).post('/webhooks/africastalking/sms').type('form').send('text=HELP')).status).toBe(404);
      expect((await request(gw.app).get('/webhooks/whatsapp')).status).toBe(404);
    } finally {
      await gw.close();
    }
  });
});
