import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import request from 'supertest';
import { africasTalkingPersonSender } from '../../src/channels/africastalking/person-sender';
import { twilioPersonSender } from '../../src/channels/twilio/person-sender';
import { whatsappPersonSender } from '../../src/channels/whatsapp/person-sender';
import type { DeliveryError } from '../../src/clients/delivery-error';
import { createLogger } from '../../src/logger';
import { createRedis, waitForRedis } from '../../src/queues/connection';
import type { PersonMessage, PersonSenderDeps } from '../../src/replies/person-sender';
import { hasherFromConfig } from '../../src/security/identifier-hash';
import { deleteByPrefix, gatewayKey, scanKeys } from '../../src/store/keys';
import { WHATSAPP_WINDOW_MARGIN_MS, WHATSAPP_WINDOW_MS, WhatsAppWindowStore } from '../../src/store/whatsapp-windows';
import { HttpRecorder, type Recorded } from '../support/http-recorder';
import { LogCapture, startGateway, testConfig, TEST_REDIS_URL, uniquePrefix, type Gateway } from '../support/gateway';
import { expectNoPersonalData } from '../support/personal-data';

const SID = 'AC0123456789abcdef0123456789abcdef';
const TWILIO_TOKEN = 'twilio-auth-token-secret';
const AT_KEY = 'africastalking-api-key-secret';
const GRAPH_TOKEN = 'graph-access-token-secret';
const PHONE = '+254711000001';
const WA_ID = '254711000002';
const WORDS = 'We found a safe place for you, call Amina tomorrow';
const PERSONAL_DATA = [PHONE, '254711000001', WA_ID, WORDS, 'Amina', TWILIO_TOKEN, AT_KEY, GRAPH_TOKEN, 'KE.fx9911'];

const sms: PersonMessage = { urn: `tel:${PHONE}`, contactUuid: null, text: WORDS, language: 'eng', reference: 'GW-7Q4K2P' };
const wa: PersonMessage = { ...sms, urn: `whatsapp:${WA_ID}` };
const form = (r: Recorded) => Object.fromEntries(new URLSearchParams(r.body.toString('utf8')));
const json = (r: Recorded) => JSON.parse(r.body.toString('utf8')) as Record<string, unknown>;
const failure = async (p: Promise<unknown>): Promise<DeliveryError> => {
  try {
    await p;
  } catch (err) {
    return err as DeliveryError;
  }
  throw new Error('the send resolved');
};

/** A provider that takes the request and never answers: the request may have been acted on. */
async function silentServer(): Promise<{ url: string; received: () => number; stop(): Promise<void> }> {
  let received = 0;
  const server = http.createServer(() => {
    received++;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received: () => received,
    stop: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/** An address nothing listens on: the connection is refused before any byte of the request leaves. */
async function closedPort(): Promise<string> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

describe('sending a caseworker message to the person', () => {
  const prefix = uniquePrefix('person-senders');
  const logs = new LogCapture();
  const logger = createLogger('debug', logs);
  let redis: Redis;
  let provider: HttpRecorder;
  let silent: Awaited<ReturnType<typeof silentServer>>;
  let refusedUrl: string;

  const deps = (env: Record<string, string>): PersonSenderDeps => {
    // Long enough that a loaded machine answers the local fake in time; only the silent server waits it out.
    const config = testConfig(prefix, { REPLY_TIMEOUT_MS: '1500', ...env });
    return { config, redis, hasher: hasherFromConfig(config), logger, rapidpro: null };
  };
  const twilioEnv = (url: string) => ({ TWILIO_ACCOUNT_SID: SID, TWILIO_AUTH_TOKEN: TWILIO_TOKEN, TWILIO_FROM: '+15005550006', TWILIO_API_URL: url, PUBLIC_URL: 'https://gateway.example.org' });
  const atEnv = (url: string, from = '21512') => ({ AFRICASTALKING_USERNAME: 'sandbox', AFRICASTALKING_API_KEY: AT_KEY, AFRICASTALKING_API_URL: url, ...(from ? { AFRICASTALKING_FROM: from } : {}) });
  const waEnv = (url: string, template = 'reply_waiting') => ({
    WHATSAPP_ACCESS_TOKEN: GRAPH_TOKEN,
    WHATSAPP_PHONE_NUMBER_ID: '1234567890',
    WHATSAPP_GRAPH_URL: url,
    ...(template ? { WHATSAPP_REPLY_TEMPLATE: template, WHATSAPP_REPLY_TEMPLATE_LANGUAGE: 'sw' } : {}),
  });
  const twilio = (url = provider.url) => twilioPersonSender(deps(twilioEnv(url)))!;
  const at = (url = provider.url, from?: string) => africasTalkingPersonSender(deps(atEnv(url, from)))!;
  const whatsapp = (url = provider.url, template?: string) => whatsappPersonSender(deps(waEnv(url, template)))!;
  const windows = () => new WhatsAppWindowStore(redis, prefix, hasherFromConfig(testConfig(prefix)));
  const reply = (status: number, body: unknown, headers?: Record<string, string>) => provider.answerNext({ status, body: JSON.stringify(body), headers });

  beforeAll(async () => {
    redis = createRedis(TEST_REDIS_URL, 'producer');
    await waitForRedis(redis, 5000);
    provider = await HttpRecorder.start({ status: 500, body: '{}' });
    silent = await silentServer();
    refusedUrl = await closedPort();
  });

  beforeEach(() => {
    provider.requests.length = 0;
  });

  afterAll(async () => {
    await deleteByPrefix(redis, prefix);
    await redis.quit();
    await provider.stop();
    await silent.stop();
  });

  describe('the factories', () => {
    it('build no sender while their settings are unset, so those records end as "channel not configured"', () => {
      expect(twilioPersonSender(deps({}))).toBeNull();
      expect(twilioPersonSender(deps({ ...twilioEnv(provider.url), TWILIO_FROM: '' }))).toBeNull();
      expect(africasTalkingPersonSender(deps({ AFRICASTALKING_USERNAME: 'sandbox' }))).toBeNull();
      expect(whatsappPersonSender(deps({ WHATSAPP_PHONE_NUMBER_ID: '1234567890' }))).toBeNull();
      expect(twilio()).not.toBeNull();
      expect(at()).not.toBeNull();
      expect(whatsapp()).not.toBeNull();
    });
  });

  describe('Twilio', () => {
    it("posts To, From and Body, form-encoded, to the account's Messages resource with Basic auth", async () => {
      reply(201, { sid: 'SM0001', status: 'queued' });
      await expect(twilio().send(sms)).resolves.toEqual({ sent: 'text' });
      const [r] = provider.requests;
      expect(r!.method).toBe('POST');
      expect(r!.url).toBe(`/2010-04-01/Accounts/${SID}/Messages.json`);
      expect(r!.headers.authorization).toBe(`Basic ${Buffer.from(`${SID}:${TWILIO_TOKEN}`).toString('base64')}`);
      expect(r!.headers['content-type']).toBe('application/x-www-form-urlencoded');
      expect(form(r!)).toEqual({ To: PHONE, From: '+15005550006', Body: WORDS });
    });

    it.each([
      [21610, /the person opted out/, { is: 'opted_out' }],
      [21211, /not a valid phone number/, null],
      [21614, /not a mobile number/, null],
    ])('error %d is permanent and says why (and whether the person opted out)', async (code, why, hint) => {
      reply(400, { code, message: 'refused', status: 400 });
      const err = await failure(twilio().send(sms));
      expect(err).toMatchObject({ service: 'Twilio', kind: 'permanent', status: 400, hint });
      expect(err.message).toMatch(why);
    });

    it('a 429 is transient and waits as long as Retry-After says', async () => {
      reply(429, { code: 20429, message: 'Too Many Requests' }, { 'Retry-After': '7' });
      expect(await failure(twilio().send(sms))).toMatchObject({ kind: 'transient', status: 429, retryAfterMs: 7000, hint: null });
    });

    it('a 5xx is transient; a 401 is our configuration', async () => {
      reply(503, {});
      expect(await failure(twilio().send(sms))).toMatchObject({ kind: 'transient', status: 503 });
      reply(401, { code: 20003, message: 'Authenticate' });
      expect(await failure(twilio().send(sms))).toMatchObject({ kind: 'configuration', status: 401 });
    });

    it('a timeout may have sent it (never retried); a refused connection cannot have', async () => {
      expect(await failure(twilio(silent.url).send(sms))).toMatchObject({ kind: 'transient', status: null, hint: { is: 'maybe_sent' } });
      expect(await failure(twilio(refusedUrl).send(sms))).toMatchObject({ kind: 'transient', status: null, hint: null });
    });

    it('sends nothing for a URN without a phone number, or a message Twilio would refuse as too long', async () => {
      expect(await failure(twilio().send({ ...sms, urn: 'tel:21512' }))).toMatchObject({ kind: 'permanent' });
      expect(await failure(twilio().send({ ...sms, text: 'x'.repeat(1601) }))).toMatchObject({ kind: 'permanent' });
      expect(provider.requests).toHaveLength(0);
    });
  });

  describe("Africa's Talking", () => {
    const answer = (statusCode: number, status: string) => ({ SMSMessageData: { Message: 'Sent to 1/1', Recipients: [{ statusCode, number: PHONE, status, cost: 'KES 0.8000', messageId: 'ATXid_1' }] } });

    it('posts username, to, message and from, form-encoded, with the apiKey header', async () => {
      reply(201, answer(101, 'Success'));
      await expect(at().send(sms)).resolves.toEqual({ sent: 'text' });
      const [r] = provider.requests;
      expect(r!.method).toBe('POST');
      expect(r!.url).toBe('/version1/messaging');
      expect(r!.headers.apikey).toBe(AT_KEY);
      expect(r!.headers.accept).toBe('application/json');
      expect(form(r!)).toEqual({ username: 'sandbox', to: PHONE, message: WORDS, from: '21512' });
    });

    it('leaves from out when AFRICASTALKING_FROM is unset (the shared short code)', async () => {
      reply(201, answer(102, 'Queued'));
      await expect(at(provider.url, '').send(sms)).resolves.toEqual({ sent: 'text' });
      expect(form(provider.requests[0]!)).not.toHaveProperty('from');
    });

    it.each([
      [406, 'UserInBlacklist', 'permanent', /opted out/, { is: 'opted_out' }],
      [403, 'InvalidPhoneNumber', 'permanent', /InvalidPhoneNumber/, null],
      [409, 'DoNotDisturbRejection', 'permanent', /DoNotDisturb/, null],
      [405, 'InsufficientBalance', 'configuration', /no credit/, null],
      [402, 'InvalidSenderId', 'configuration', /AFRICASTALKING_FROM/, null],
      [500, 'InternalServerError', 'transient', /InternalServerError/, null],
    ])('a 2xx whose recipient status is %d (%s) is %s', async (code, status, kind, why, hint) => {
      reply(201, answer(code, status));
      const err = await failure(at().send(sms));
      expect(err).toMatchObject({ kind, hint });
      expect(err.message).toMatch(why);
    });

    it('a recipient status we do not know, or an answer we cannot read, may have sent it: never again', async () => {
      reply(201, answer(999, 'Mystery'));
      expect(await failure(at().send(sms))).toMatchObject({ kind: 'permanent', hint: { is: 'maybe_sent' } });
      provider.answerNext({ status: 201, body: 'ok' });
      expect(await failure(at().send(sms))).toMatchObject({ kind: 'permanent', hint: { is: 'maybe_sent' } });
    });

    it('HTTP 401 is our configuration; 429 waits for Retry-After; a timeout may have sent it', async () => {
      provider.answerNext({ status: 401, body: 'The supplied authentication is invalid' });
      expect(await failure(at().send(sms))).toMatchObject({ kind: 'configuration', status: 401 });
      reply(429, {}, { 'Retry-After': '3' });
      expect(await failure(at().send(sms))).toMatchObject({ kind: 'transient', retryAfterMs: 3000 });
      expect(await failure(at(silent.url).send(sms))).toMatchObject({ hint: { is: 'maybe_sent' } });
      expect(await failure(at(refusedUrl).send(sms))).toMatchObject({ hint: null });
    });
  });

  describe('WhatsApp Cloud', () => {
    const sent = { messaging_product: 'whatsapp', messages: [{ id: 'wamid.out' }] };
    beforeEach(async () => {
      await windows().close(wa.urn);
    });

    it("inside the 24-hour window sends the caseworker's words as text, with the bearer token", async () => {
      await windows().open(wa.urn, new Date());
      reply(200, sent);
      await expect(whatsapp().send(wa)).resolves.toEqual({ sent: 'text' });
      const [r] = provider.requests;
      expect(r!.url).toBe('/1234567890/messages');
      expect(r!.headers.authorization).toBe(`Bearer ${GRAPH_TOKEN}`);
      expect(json(r!)).toEqual({ messaging_product: 'whatsapp', recipient_type: 'individual', to: WA_ID, type: 'text', text: { preview_url: false, body: WORDS } });
    });

    it("outside it sends only the approved template, with none of the caseworker's words", async () => {
      reply(200, sent);
      await expect(whatsapp().send(wa)).resolves.toEqual({ sent: 'template' });
      const [r] = provider.requests;
      expect(json(r!)).toEqual({ messaging_product: 'whatsapp', recipient_type: 'individual', to: WA_ID, type: 'template', template: { name: 'reply_waiting', language: { policy: 'deterministic', code: 'sw' } } });
      expectNoPersonalData(r!.body.toString('utf8'), [WORDS, 'Amina']);
    });

    it('when Meta says the window has closed (131047), sends the template instead and forgets the window', async () => {
      await windows().open(wa.urn, new Date());
      reply(400, { error: { message: '(#131047) Re-engagement message', type: 'OAuthException', code: 131047 } });
      reply(200, sent);
      await expect(whatsapp().send(wa)).resolves.toEqual({ sent: 'template' });
      expect(provider.requests.map((r) => json(r).type)).toEqual(['text', 'template']);
      expect(await windows().isOpen(wa.urn)).toBe(false);
    });

    it('outside the window with no template configured sends nothing and says so', async () => {
      const err = await failure(whatsapp(provider.url, '').send(wa));
      expect(err).toMatchObject({ kind: 'permanent', message: "outside WhatsApp's 24-hour window and no template configured (WHATSAPP_REPLY_TEMPLATE)" });
      expect(provider.requests).toHaveLength(0);
    });

    it.each([
      [400, 131026, 'permanent', /cannot receive it/, null],
      [400, 131050, 'permanent', /opted out/, { is: 'opted_out' }],
      [429, 130429, 'transient', /throttling/, null],
      [401, 190, 'configuration', /access token/, null],
      [404, 132001, 'configuration', /template does not exist/, null],
    ])('HTTP %d with error %d is %s', async (status, code, kind, why, hint) => {
      reply(status, { error: { message: 'refused', code } });
      const err = await failure(whatsapp().send(wa));
      expect(err).toMatchObject({ service: 'WhatsApp', kind, status, hint });
      expect(err.message).toMatch(why);
    });

    it('a timeout on the text may have delivered it: no template follows, and it is never retried', async () => {
      await windows().open(wa.urn, new Date());
      const before = silent.received();
      expect(await failure(whatsapp(silent.url).send(wa))).toMatchObject({ kind: 'transient', hint: { is: 'maybe_sent' } });
      expect(silent.received() - before).toBe(1);
      expect(await failure(whatsapp(refusedUrl).send(wa))).toMatchObject({ hint: null });
    });

    it('a business-scoped user id is addressed in recipient, not to', async () => {
      const bsuid = { ...wa, urn: 'whatsapp:KE.fx9911' };
      await windows().open(bsuid.urn, new Date());
      reply(200, sent);
      await expect(whatsapp().send(bsuid)).resolves.toEqual({ sent: 'text' });
      expect(json(provider.requests[0]!)).toMatchObject({ recipient: 'KE.fx9911', type: 'text' });
      expect(json(provider.requests[0]!)).not.toHaveProperty('to');
    });
  });

  describe('the window store', () => {
    it('runs from the message time, less the margin; an older message never shortens it; no number in the key', async () => {
      const store = windows();
      const urn = 'whatsapp:254711000003';
      await store.open(urn, new Date(Date.now() - WHATSAPP_WINDOW_MS + WHATSAPP_WINDOW_MARGIN_MS - 1000));
      expect(await store.isOpen(urn)).toBe(false);
      await store.open(urn, new Date());
      await store.open(urn, new Date(Date.now() - 20 * 3600_000));
      expect(await store.isOpen(urn)).toBe(true);
      const key = gatewayKey(prefix, 'wa-window', hasherFromConfig(testConfig(prefix)).hash(urn));
      expect(await redis.pttl(key)).toBeGreaterThan(WHATSAPP_WINDOW_MS - WHATSAPP_WINDOW_MARGIN_MS - 60_000);
      const keys: string[] = [];
      for await (const found of scanKeys(redis, gatewayKey(prefix, 'wa-window', '*'))) keys.push(...found);
      expect(keys).toContain(key);
      expectNoPersonalData(keys, ['254711000003', WA_ID, 'KE.fx9911']);
    });
  });

  describe('an inbound WhatsApp message', () => {
    const APP_SECRET = 'fb_app_secret_windows';
    let gw: Gateway;
    const inbound = (from: string, sentAt: Date, id: string) =>
      JSON.stringify({
        object: 'whatsapp_business_account',
        entry: [{ id: '1', changes: [{ field: 'messages', value: { messages: [{ id, from, timestamp: String(Math.floor(sentAt.getTime() / 1000)), type: 'text', text: { body: 'HELP nisaidie' } }] } }] }],
      });
    const post = (body: string) =>
      request(gw.app).post('/webhooks/whatsapp').set('X-Hub-Signature-256', `sha256=${createHmac('sha256', APP_SECRET).update(body).digest('hex')}`).set('Content-Type', 'application/json').send(body);

    beforeAll(async () => {
      gw = await startGateway({ prefix: `${prefix}-gw`, workers: false, env: { WHATSAPP_APP_SECRET: APP_SECRET, ...waEnv(provider.url) } });
    });

    afterAll(async () => {
      await gw.close();
      expectNoPersonalData(gw.logs.text, [...PERSONAL_DATA, 'nisaidie', '254711000004', '254711000005']);
    });

    it("opens the sender's window, so the caseworker's next message goes out as text", async () => {
      const sender = whatsappPersonSender({ config: gw.config, redis: gw.redis, hasher: gw.services.hasher, logger, rapidpro: null })!;
      const store = new WhatsAppWindowStore(gw.redis, gw.config.QUEUE_PREFIX, gw.services.hasher);
      expect(await store.isOpen(wa.urn)).toBe(false);
      expect((await post(inbound(WA_ID, new Date(), 'wamid.window-1'))).status).toBe(200);
      expect(await store.isOpen(wa.urn)).toBe(true);
      reply(200, { messages: [{ id: 'wamid.out' }] });
      await expect(sender.send(wa)).resolves.toEqual({ sent: 'text' });
      expect(json(provider.requests.at(-1)!)).toMatchObject({ type: 'text', to: WA_ID });
    });

    it('still acknowledges the message when the window cannot be written', async () => {
      const open = jest.spyOn(WhatsAppWindowStore.prototype, 'open').mockRejectedValueOnce(Object.assign(new Error('Connection is closed.'), { name: 'Error' }));
      try {
        const res = await post(inbound('254711000005', new Date(), 'wamid.window-3'));
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({ stored: 1 });
        expect(gw.logs.text).toContain('WhatsApp window not recorded');
      } finally {
        open.mockRestore();
      }
    });

    it('forgetting the person closes their window too', async () => {
      const store = new WhatsAppWindowStore(gw.redis, gw.config.QUEUE_PREFIX, gw.services.hasher);
      await store.open(wa.urn, new Date());
      await gw.services.forget.forget(wa.urn, 'test-operator');
      expect(await store.isOpen(wa.urn)).toBe(false);
    });

    it('a message Meta re-delivers days late does not open it', async () => {
      const other = 'whatsapp:254711000004';
      const store = new WhatsAppWindowStore(gw.redis, gw.config.QUEUE_PREFIX, gw.services.hasher);
      expect((await post(inbound('254711000004', new Date(Date.now() - 2 * 24 * 3600_000), 'wamid.window-2'))).status).toBe(200);
      expect(await store.isOpen(other)).toBe(false);
    });
  });

  it('logs none of the personal data it handled', () => {
    expect(logs.lines.length).toBeGreaterThan(0);
    expectNoPersonalData(logs.text, [...PERSONAL_DATA, '254711000004']);
  });
});
