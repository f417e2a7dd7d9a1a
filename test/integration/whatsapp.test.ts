import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import nock from 'nock';
import request from 'supertest';
import { acceptingPrimero, eventually, startGateway, uniquePrefix, type Gateway } from '../support/gateway';
import { HttpRecorder } from '../support/http-recorder';

const APP_SECRET = 'fb_app_secret';
const fixtureBytes = readFileSync(path.join(__dirname, '..', 'fixtures', 'rapidpro', 'whatsapp-cloud-inbound-text.json'));

const sign = (body: Buffer | string) => `sha256=${createHmac('sha256', APP_SECRET).update(body).digest('hex')}`;

function inbound(messages: unknown[], statuses?: unknown[]) {
  return JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [{ id: '8856996819413533', changes: [{ field: 'messages', value: { messaging_product: 'whatsapp', metadata: { phone_number_id: '1234567890' }, ...(messages.length ? { messages } : {}), ...(statuses ? { statuses } : {}) } }] }],
  });
}

const post = (gw: Gateway, body: Buffer | string, signature = sign(body)) =>
  request(gw.app).post('/webhooks/whatsapp').set('X-Hub-Signature-256', signature).set('Content-Type', 'application/json').send(body.toString());

describe('WhatsApp Cloud API', () => {
  let gw: Gateway;
  let graph: HttpRecorder;
  let created: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    graph = await HttpRecorder.start({ status: 200, body: '{"messages":[{"id":"wamid.out"}]}' });
    created = acceptingPrimero('cp-wa');
    gw = await startGateway({
      prefix: uniquePrefix('wa'),
      env: {
        WHATSAPP_APP_SECRET: APP_SECRET,
        WHATSAPP_VERIFY_TOKEN: 'verify-token-123',
        WHATSAPP_ACCESS_TOKEN: 'graph-access-token',
        WHATSAPP_PHONE_NUMBER_ID: '1234567890',
        WHATSAPP_GRAPH_URL: graph.url,
      },
    });
  });

  afterAll(async () => {
    await gw.close();
    await graph.stop();
    nock.cleanAll();
    nock.enableNetConnect();
    for (const secret of ['Hello World', 'Kerry Fisher', '250788555', 'nisaidie tafadhali', 'graph-access-token']) expect(gw.logs.text).not.toContain(secret);
  });

  it('answers the verification handshake only with the right token', async () => {
    const ok = await request(gw.app).get('/webhooks/whatsapp').query({ 'hub.mode': 'subscribe', 'hub.verify_token': 'verify-token-123', 'hub.challenge': '1158201444' });
    expect(ok.status).toBe(200);
    expect(ok.text).toBe('1158201444');
    const bad = await request(gw.app).get('/webhooks/whatsapp').query({ 'hub.mode': 'subscribe', 'hub.verify_token': 'nope', 'hub.challenge': '1' });
    expect(bad.status).toBe(403);
  });

  it("verifies the signature over the fixture's exact bytes (upstream vector)", async () => {
    expect(sign(fixtureBytes)).toBe('sha256=700efab27306b2b1518621a77de8c4cb9b1ac6f421c234a8518cdc915bde1cfe');
    const res = await post(gw, fixtureBytes);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok', stored: 1 });
  });

  it('refuses a body re-serialised after signing, and an unsigned one, with 403', async () => {
    const reserialised = JSON.stringify(JSON.parse(fixtureBytes.toString()));
    expect((await post(gw, reserialised, sign(fixtureBytes))).status).toBe(403);
    const unsigned = await request(gw.app).post('/webhooks/whatsapp').set('Content-Type', 'application/json').send(fixtureBytes.toString());
    expect(unsigned.status).toBe(403);
  });

  it('stores a text message, creates the case and sends the acknowledgement through the Graph API', async () => {
    const body = inbound([{ from: '250788555001', id: 'wamid.HBgM001', timestamp: '1764150000', type: 'text', text: { body: 'MSAADA nisaidie tafadhali' } }]);
    expect((await post(gw, body)).status).toBe(200);
    const sent = await eventually(() => graph.requests.find((r) => JSON.parse(r.body.toString()).to === '250788555001'));
    expect(sent.method).toBe('POST');
    expect(sent.url).toBe('/1234567890/messages');
    expect(sent.headers.authorization).toBe('Bearer graph-access-token');
    const payload = JSON.parse(sent.body.toString());
    expect(payload).toMatchObject({ messaging_product: 'whatsapp', type: 'text' });
    expect(payload.text.body).toMatch(/^Asante, .* ni [2-9A-HJ-NP-Z]{8}\./);
    expect(payload.text.body).not.toContain('nisaidie');
    const reference = /ni ([2-9A-HJ-NP-Z]{8})\./.exec(payload.text.body)![1]!;
    await eventually(() => gw.references.get(reference));
    expect(created.find((c) => c.other_agency_id === reference)).toMatchObject({ telephone_current: '+250788555001', protection_concerns_other: 'nisaidie tafadhali' });
  });

  it('takes button and interactive replies, keeps media as links, and sends one reply per message even when re-delivered', async () => {
    const messages = [
      { from: '250788555002', id: 'wamid.B1', type: 'button', button: { text: 'HELP', payload: 'help' } },
      { from: '250788555003', id: 'wamid.I1', type: 'interactive', interactive: { type: 'button_reply', button_reply: { id: 'b', title: 'FEEDBACK' } } },
      { from: '250788555004', id: 'wamid.M1', type: 'image', image: { id: 'media-77', mime_type: 'image/jpeg' } },
    ];
    const body = inbound(messages);
    expect((await post(gw, body)).body.stored).toBe(3);
    expect((await post(gw, body)).body.stored).toBe(3);
    await eventually(() => ['250788555002', '250788555003', '250788555004'].every((to) => graph.requests.some((r) => JSON.parse(r.body.toString()).to === to)));
    await new Promise((r) => setTimeout(r, 300));
    for (const to of ['250788555002', '250788555003', '250788555004']) {
      expect(graph.requests.filter((r) => JSON.parse(r.body.toString()).to === to)).toHaveLength(1);
    }
    const withMedia = await eventually(() => created.find((c) => c.telephone_current === '+250788555004'));
    expect(withMedia.protection_concerns_other).toBe('Attachment: whatsapp-media:media-77');
  });

  it('ignores delivery statuses without creating anything', async () => {
    const before = await gw.queue.getJobCountByTypes('waiting', 'active', 'completed', 'failed', 'delayed');
    const res = await post(gw, inbound([], [{ id: 'wamid.out', recipient_id: '250788555001', status: 'delivered', timestamp: '1764150001' }]));
    expect(res.body).toEqual({ status: 'ok', stored: 0 });
    expect(await gw.queue.getJobCountByTypes('waiting', 'active', 'completed', 'failed', 'delayed')).toBe(before);
  });

  it('retries the acknowledgement when the Graph API answers 500', async () => {
    graph.answerNext({ status: 500, body: '{"error":{"code":2}}' });
    const before = graph.requests.length;
    await post(gw, inbound([{ from: '250788555009', id: 'wamid.R1', type: 'text', text: { body: 'HELP' } }]));
    await eventually(() => graph.requests.length >= before + 2);
    const tries = graph.requests.slice(before).filter((r) => JSON.parse(r.body.toString()).to === '250788555009');
    expect(tries).toHaveLength(2);
  });

  it('answers 422 to a body that is not a WhatsApp webhook', async () => {
    const res = await post(gw, JSON.stringify({ object: 'page', entry: [] }));
    expect(res.status).toBe(422);
  });
});
