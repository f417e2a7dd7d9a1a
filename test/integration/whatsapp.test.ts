import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { JobType } from 'bullmq';
import nock from 'nock';
import request from 'supertest';
import { scrapeMetrics, untilGatewayDrained, startGateway, uniquePrefix, type Gateway } from '../support/gateway';
import { eventually } from '../support/eventually';
import { acceptingPrimero } from '../support/primero-fake';
import { expectNoPersonalData } from '../support/personal-data';
import { HttpRecorder } from '../support/http-recorder';
import { watchParserShrink, type ParserShrinkWatch } from '../support/reply-parser';
import { sealContext } from '../../src/security/payload-codec';
import { MAX_UNREADABLE_PER_BODY } from '../../src/channels/whatsapp/route';

const APP_SECRET = 'fb_app_secret';
const fixtureBytes = readFileSync(path.join(__dirname, '..', 'fixtures', 'rapidpro', 'whatsapp-cloud-inbound-text.json'));
/** Shapes from nyaruka/courier handlers/meta/testdata/wac/ (see test/fixtures/whatsapp/README.md). */
const waFixture = (name: string) => readFileSync(path.join(__dirname, '..', 'fixtures', 'whatsapp', name));
const ADMIN = 'admin-token-whatsapp-0001';

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
  const PERSONAL_DATA = ['Hello World', 'Kerry Fisher', '250788555', 'nisaidie tafadhali', 'graph-access-token', 'nobody sent this', 'KE.fx4711', 'naomba msaada', 'where it happens', 'Zawadi', '2547112000', 'Baraka', '254722000999', 'KE.fx5820', 'mlango umevunjwa'];
  let gw: Gateway;
  let graph: HttpRecorder;
  let created: Array<Record<string, unknown>> = [];
  // The deeply nested body is kept whole, some 200 KiB, and read back: see watchParserShrink.
  let parserShrink: ParserShrinkWatch;

  beforeAll(async () => {
    parserShrink = watchParserShrink();
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
        WHATSAPP_TIMEOUT_MS: '300',
        ADMIN_TOKEN: ADMIN,
      },
    });
  });

  afterAll(async () => {
    await gw.close();
    await graph.stop();
    nock.cleanAll();
    nock.enableNetConnect();
    await parserShrink.stopped();
    // Again after the close, so a `-t` run checks too and lines written during shutdown are read.
    expectNoPersonalData(gw.logs.text, PERSONAL_DATA);
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
    expect(res.body).toEqual({ status: 'ok', stored: 1, kept_unreadable: 0 });
  });

  it('refuses a body re-serialised after signing, and an unsigned one, with 403', async () => {
    const reserialised = JSON.stringify(JSON.parse(fixtureBytes.toString()));
    expect((await post(gw, reserialised, sign(fixtureBytes))).status).toBe(403);
    const unsigned = await request(gw.app).post('/webhooks/whatsapp').set('Content-Type', 'application/json').send(fixtureBytes.toString());
    expect(unsigned.status).toBe(403);
  });

  // Meta's batches may reach 3 MB (developers.facebook.com/docs/whatsapp/cloud-api/webhooks): thousands of statuses beside one message.
  const bigBatch = (from: string, id: string) => {
    const statuses = Array.from({ length: 12000 }, (_, i) => ({ id: `wamid.S${i}`, recipient_id: '250788555999', status: 'delivered', timestamp: '1764150001' }));
    return inbound([{ from, id, timestamp: '1764150000', type: 'text', text: { body: 'HELP' } }], statuses);
  };

  it('stores the message of a signed batch over 1 MiB (beyond the 256 KiB other routes take)', async () => {
    const body = bigBatch('250788555101', 'wamid.BIG1');
    expect(Buffer.byteLength(body)).toBeGreaterThan(1024 * 1024);
    const res = await post(gw, body);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok', stored: 1, kept_unreadable: 0 });
    await eventually(() => created.find((c) => c.telephone_current === '+250788555101'));
  });

  it('refuses an unsigned big batch 403 and a signed one over 3 MiB 413, storing nothing from either', async () => {
    const before = await gw.queue.getJobCountByTypes('waiting', 'active', 'completed', 'failed', 'delayed');
    const unsigned = bigBatch('250788555102', 'wamid.BIG2');
    expect((await post(gw, unsigned, 'sha256=' + '0'.repeat(64))).status).toBe(403);
    const huge = inbound([{ from: '250788555103', id: 'wamid.BIG3', type: 'text', text: { body: 'HELP' } }], [{ pad: 'x'.repeat(3 * 1024 * 1024) }]);
    const tooLarge = await post(gw, huge);
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.body.error.code).toBe('body_too_large');
    await untilGatewayDrained(gw);
    expect(await gw.queue.getJobCountByTypes('waiting', 'active', 'completed', 'failed', 'delayed')).toBe(before);
    expect(created.filter((c) => c.telephone_current === '+250788555102' || c.telephone_current === '+250788555103')).toEqual([]);
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
    await untilGatewayDrained(gw);
    for (const to of ['250788555002', '250788555003', '250788555004']) {
      expect(graph.requests.filter((r) => JSON.parse(r.body.toString()).to === to)).toHaveLength(1);
    }
    const withMedia = await eventually(() => created.find((c) => c.telephone_current === '+250788555004'));
    expect(withMedia.protection_concerns_other).toBe('Attachment: whatsapp-media:image:media-77');
  });

  it('ignores delivery statuses without creating anything', async () => {
    const before = await gw.queue.getJobCountByTypes('waiting', 'active', 'completed', 'failed', 'delayed');
    const res = await post(gw, inbound([], [{ id: 'wamid.out', recipient_id: '250788555001', status: 'delivered', timestamp: '1764150001' }]));
    expect(res.body).toEqual({ status: 'ok', stored: 0, kept_unreadable: 0 });
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

  const admin = (req: request.Test) => req.set('Authorization', `Bearer ${ADMIN}`);

  it('never sends the acknowledgement again after a timeout (Meta may have delivered it): a dead letter says so', async () => {
    graph.answerNext('silent');
    const before = graph.requests.length;
    await post(gw, inbound([{ from: '250788555010', id: 'wamid.T1', type: 'text', text: { body: 'HELP' } }]));
    const replies = gw.services.registry.get('whatsapp-replies');
    const toSender = () => graph.requests.slice(before).filter((r) => JSON.parse(r.body.toString()).to === '250788555010');
    // Settled as a dead letter, or (as before this was fixed) sent a second time.
    await eventually(async () => toSender().length > 1 || (await replies.getFailedCount()) > 0, 15_000, 'the acknowledgement to settle');
    expect(toSender().length).toBe(1);
    const [failed] = await replies.getFailed();
    expect(failed!.failedReason).toMatch(/not sent again, it may have gone out/);
    // A replay, one or matching, never sends it and says why: "not confirmed" letters are resent only on purpose.
    const id = `whatsapp-replies.${failed!.id}`;
    const one = await admin(request(gw.app).post(`/admin/dead-letters/${id}/replay`));
    expect([one.status, one.body.error.code]).toEqual([409, 'not_confirmed']);
    const matching = await admin(request(gw.app).post('/admin/dead-letters/replay')).send({ queue: 'whatsapp-replies', dry_run: false });
    expect(matching.body).toMatchObject({ replayed: 0, not_confirmed: [id] });
    expect(await (await replies.getJob(failed!.id!))!.isFailed()).toBe(true);
    // After checking it did not go out: an audited resend, with the reason, sends it once.
    // The reason travels in the JSON body only (an address lands in access logs), and the refusal asks for no names or numbers.
    const noReason = await admin(request(gw.app).post(`/admin/dead-letters/${id}/resend`));
    expect([noReason.status, noReason.body.error.message]).toEqual([422, expect.stringContaining('no names or numbers')]);
    expect((await admin(request(gw.app).post(`/admin/dead-letters/${id}/resend`).query({ reason: 'no sent status from Meta' }))).status).toBe(422);
    expect(toSender().length).toBe(1);
    const resent = await admin(request(gw.app).post(`/admin/dead-letters/${id}/resend`)).send({ reason: 'no sent status from Meta' });
    expect(resent.status).toBe(202);
    await eventually(async () => toSender().length > 1 && !(await replies.getJob(failed!.id!)), 15_000, 'the resend to go out');
    expect(toSender().length).toBe(2);
    const audit = await admin(request(gw.app).get('/admin/audit'));
    expect(JSON.stringify(audit.body)).toContain('no sent status from Meta');
  });

  it('never sends the acknowledgement again after a proxy in front of Meta answered 504 (Meta may have taken it)', async () => {
    graph.answerNext({ status: 504, body: 'gateway timeout' });
    const before = graph.requests.length;
    const replies = gw.services.registry.get('whatsapp-replies');
    const lettersBefore = await replies.getFailedCount();
    await post(gw, inbound([{ from: '250788555011', id: 'wamid.T504', type: 'text', text: { body: 'HELP' } }]));
    const toSender = () => graph.requests.slice(before).filter((r) => JSON.parse(r.body.toString()).to === '250788555011');
    await eventually(async () => toSender().length > 1 || (await replies.getFailedCount()) > lettersBefore, 15_000, 'the acknowledgement to settle');
    expect(toSender().length).toBe(1);
  });

  const ALL_STATES: JobType[] = ['wait', 'active', 'completed', 'failed', 'delayed', 'prioritized'];
  const unreadableJobs = () => gw.services.whatsappUnreadable.queue;
  const unreadableLetters = async () =>
    (await admin(request(gw.app).get('/admin/dead-letters').query({ queue: 'whatsapp-unreadable' }))).body.dead_letters as Array<{ id: string; error: string }>;

  it('stores the rest of a batch when one message has no sender, and keeps that one as a dead letter an operator can see', async () => {
    const res = await post(gw, waFixture('batch-with-unreadable.json'));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok', stored: 2, kept_unreadable: 1 });
    await eventually(() => created.find((c) => c.telephone_current === '+254711200010'));
    await eventually(() => created.find((c) => c.telephone_current === '+254711200011'));
    const letters = await eventually(async () => ((await unreadableLetters()).length ? unreadableLetters() : null));
    expect(letters).toHaveLength(1);
    expect(letters[0]!.error).toBe('WhatsApp message has neither from nor from_user_id');
    const shown = await admin(request(gw.app).get(`/admin/dead-letters/${letters[0]!.id}`));
    expect(JSON.stringify(shown.body)).not.toContain('nobody sent this');
    const revealed = await admin(request(gw.app).get(`/admin/dead-letters/${letters[0]!.id}`).query({ reveal: 'true' }));
    expect(JSON.parse(revealed.body.data.text)).toMatchObject({ id: 'wamid.fx-batch-2', text: { body: 'nobody sent this' } });
    // Re-delivery of the same batch keeps no second copy, in any state (the 200 comes after the keep).
    expect((await post(gw, waFixture('batch-with-unreadable.json'))).body.kept_unreadable).toBe(1);
    expect(await unreadableJobs().getJobCountByTypes(...ALL_STATES)).toBe(1);
    await admin(request(gw.app).delete(`/admin/dead-letters/${letters[0]!.id}`));
  });

  it('answers 200 to a signed body that is not a WhatsApp webhook, and keeps it whole', async () => {
    const res = await post(gw, JSON.stringify({ object: 'page', entry: [] }));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok', stored: 0, kept_unreadable: 1 });
    const letters = await eventually(async () => ((await unreadableLetters()).length ? unreadableLetters() : null));
    expect(letters[0]!.error).toBe('body is not a WhatsApp Cloud API webhook (fields object)');
    await admin(request(gw.app).delete(`/admin/dead-letters/${letters[0]!.id}`));
  });

  it('stores a kept message once the parser reads it, as a replay after a parser fix does', async () => {
    const kept = JSON.parse(waFixture('voice.json').toString()).entry[0].changes[0].value.messages[0];
    kept.id = 'wamid.fx-replayed';
    kept.from = '254711200012';
    await gw.services.whatsappUnreadable.keep({ wamid: kept.id, reason: 'older parser', message: kept });
    const record = await eventually(() => created.find((c) => c.telephone_current === '+254711200012'));
    expect(record.protection_concerns_other).toBe('Attachment: whatsapp-media:voice:media-voice-1');
  });

  it('takes a sender with only a business-scoped user id as whatsapp:<user id>, and answers them by recipient', async () => {
    expect((await post(gw, waFixture('from-user-id-no-from.json'))).body).toEqual({ status: 'ok', stored: 1, kept_unreadable: 0 });
    const sent = await eventually(() => graph.requests.find((r) => JSON.parse(r.body.toString()).recipient === 'KE.fx4711'));
    expect(JSON.parse(sent.body.toString()).to).toBeUndefined();
    const reference = /([2-9A-HJ-NP-Z]{8})/.exec(JSON.parse(sent.body.toString()).text.body)![1]!;
    const link = await eventually(() => gw.references.get(reference));
    expect(link).toMatchObject({ urn: 'whatsapp:KE.fx4711' });
    const record = created.find((c) => c.other_agency_id === reference)!;
    expect(record.telephone_current).toBeUndefined();
    expect(record.protection_concerns_other).toBe('naomba msaada');
  });

  it.each([
    ['voice.json', '+254711200001', 'Attachment: whatsapp-media:voice:media-voice-1'],
    ['image-caption.json', '+254711200002', 'this is where it happens | Attachment: whatsapp-media:image:media-image-1'],
    ['audio-caption.json', '+254711200003', 'listen to what he says | Attachment: whatsapp-media:audio:media-audio-1'],
    ['video-caption.json', '+254711200004', 'this happened at the market | Attachment: whatsapp-media:video:media-video-1'],
    ['document.json', '+254711200005', 'the letter they gave me | Attachment: whatsapp-media:document:media-document-1'],
    ['sticker.json', '+254711200006', 'Attachment: whatsapp-media:sticker:media-sticker-1'],
    ['interactive-nfm-reply.json', '+254711200007', 'Sent'],
  ])('keeps %s as a case: every caption as text, media by type and id, never a link or the form data', async (file, phone, text) => {
    expect((await post(gw, waFixture(file))).body).toMatchObject({ status: 'ok', stored: 1 });
    const record = await eventually(() => created.filter((c) => c.telephone_current === phone).at(-1));
    expect(record.protection_concerns_other).toBe(text);
    expect(JSON.stringify(record)).not.toMatch(/wamedia|https?:|flow_token|Zawadi/);
  });

  it('reads a timestamp in milliseconds as milliseconds', async () => {
    await post(gw, waFixture('timestamp-milliseconds.json'));
    const received = await eventually(async () => {
      for (const j of await gw.queue.getJobs(['waiting', 'active', 'completed', 'failed', 'delayed'])) {
        const data = gw.services.codec.decode(j.data, sealContext.job(j.queueName)) as { urn?: string; receivedAt?: string };
        if (data.urn === 'whatsapp:254711200009') return data.receivedAt;
      }
      return null;
    });
    expect(received).toBe('2025-11-26T09:40:09.000Z');
  });

  const repliesTo = (recipient: string) => graph.requests.filter((r) => JSON.stringify(JSON.parse(r.body.toString())).includes(recipient));
  const forget = (urn: string) => admin(request(gw.app).post('/admin/contacts/forget').send({ urn }));

  it('links a sender named by both from and from_user_id: a STOP under the number holds when only the user id comes, and forget takes both', async () => {
    expect((await post(gw, waFixture('from-and-user-id.json'))).body).toMatchObject({ status: 'ok', stored: 1 });
    const replyJobs = gw.services.whatsappReplies!.queue;
    // Later Meta sends only the user id (the person adopted a username).
    const later = inbound([{ from_user_id: 'KE.fx5820', id: 'wamid.fx-user-id-later', timestamp: '1764150030', type: 'text', text: { body: 'HELP mjini sasa' } }]);
    expect((await post(gw, later)).body).toMatchObject({ stored: 1 });
    // Acknowledgements are queued before the 200: once that queue is drained, any would have been sent.
    await eventually(async () => (await replyJobs.getJobCountByTypes('wait', 'active', 'delayed', 'prioritized')) === 0);
    // Forget leaves a running job alone: wait for the case to be made first.
    await eventually(async () => {
      for (const j of await gw.queue.getJobs(['completed'])) {
        const data = gw.services.codec.decode(j.data, sealContext.job(j.queueName)) as { urn?: string };
        if (data.urn === 'whatsapp:KE.fx5820') return true;
      }
      return null;
    });
    expect(repliesTo('KE.fx5820')).toHaveLength(0);
    // Forgetting the number forgets what came under the user id too.
    const report = await forget('whatsapp:254711200020');
    expect(report.status).toBe(200);
    expect(report.body.optOutKept).toBe(true);
    expect(report.body.jobsRemoved).toBeGreaterThanOrEqual(1);
    for (const j of await gw.queue.getJobs([...ALL_STATES])) {
      const data = gw.services.codec.decode(j.data, sealContext.job(j.queueName)) as { urn?: string };
      expect(data.urn).not.toBe('whatsapp:KE.fx5820');
    }
  });

  it('forgets a sender whose message sits in a dead letter kept whole (a body that is not a WhatsApp webhook)', async () => {
    const body = JSON.stringify({ object: 'whatsapp_business_acct', entry: [{ changes: [{ field: 'messages', value: { contacts: [{ profile: { name: 'Zawadi' }, wa_id: '254711200031' }], messages: [{ from: '254711200031', id: 'wamid.fx-whole', type: 'text', text: { body: 'naomba msaada' } }] } }] }] });
    expect((await post(gw, body)).body).toEqual({ status: 'ok', stored: 0, kept_unreadable: 1 });
    await eventually(async () => (await unreadableJobs().getJobCountByTypes('failed')) === 1);
    const report = await forget('whatsapp:254711200031');
    expect(report.body.jobsRemoved).toBe(1);
    expect(await unreadableJobs().getJobCountByTypes(...ALL_STATES)).toBe(0);
  });

  it('takes a 16-digit timestamp as the receive time instead of failing the POST', async () => {
    const before = Date.now();
    const res = await post(gw, inbound([{ from: '254711200032', id: 'wamid.fx-ts16', timestamp: '9999999999999999', type: 'text', text: { body: 'HELP' } }]));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok', stored: 1, kept_unreadable: 0 });
    const received = await eventually(async () => {
      for (const j of await gw.queue.getJobs([...ALL_STATES])) {
        const data = gw.services.codec.decode(j.data, sealContext.job(j.queueName)) as { urn?: string; receivedAt?: string };
        if (data.urn === 'whatsapp:254711200032') return data.receivedAt;
      }
      return null;
    });
    expect(Date.parse(received)).toBeGreaterThanOrEqual(before - 1000);
  });

  it('keeps a deeply nested unreadable message as a dead letter and answers 200', async () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const body = inbound([]).replace('"metadata"', `"messages":[{"id":"wamid.fx-deep","from":"254711200033","type":"text","text":{"body":${deep}}}],"metadata"`);
    const res = await post(gw, body);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok', stored: 0, kept_unreadable: 1 });
    await eventually(async () => (await unreadableJobs().getJobCountByTypes('failed')) === 1);
    const [letter] = await unreadableLetters();
    expect(letter!.error).toBe('unreadable WhatsApp message (fields text.body)');
    await admin(request(gw.app).delete(`/admin/dead-letters/${letter!.id}`));
  });

  it('keeps a body with more unreadable messages than the bound once, whole, not one dead letter each', async () => {
    const many = Array.from({ length: MAX_UNREADABLE_PER_BODY + 5 }, (_, i) => ({ id: `wamid.fx-many-${i}`, type: 'text', text: { body: 'nobody sent this' } }));
    const res = await post(gw, inbound(many));
    expect(res.body).toEqual({ status: 'ok', stored: 0, kept_unreadable: 1 });
    expect(await unreadableJobs().getJobCountByTypes(...ALL_STATES)).toBe(1);
    await eventually(async () => (await unreadableJobs().getJobCountByTypes('failed')) === 1);
    const [letter] = await unreadableLetters();
    expect(letter!.error).toBe(`${MAX_UNREADABLE_PER_BODY + 5} unreadable WhatsApp messages in one body (first: WhatsApp message has neither from nor from_user_id)`);
    await admin(request(gw.app).delete(`/admin/dead-letters/${letter!.id}`));
  });

  it('makes a contacts message a case that says one was sent, without the shared contact', async () => {
    expect((await post(gw, waFixture('contacts.json'))).body).toEqual({ status: 'ok', stored: 1, kept_unreadable: 0 });
    const record = await eventually(() => created.find((c) => c.telephone_current === '+254711200021'));
    expect(record.protection_concerns_other).toBe('Attachment: whatsapp-message:contacts');
    expect(JSON.stringify(record)).not.toMatch(/Baraka|254722000999|Amani/);
    for (const type of ['order', 'unsupported']) {
      const from = type === 'order' ? '254711200034' : '254711200035';
      expect((await post(gw, inbound([{ from, id: `wamid.fx-${type}`, type, [type]: { catalog_id: 'c1' } }]))).body).toMatchObject({ stored: 1, kept_unreadable: 0 });
      const r = await eventually(() => created.find((c) => c.telephone_current === `+${from}`));
      expect(r.protection_concerns_other).toBe(`Attachment: whatsapp-message:${type}`);
    }
  });

  it('creates nothing for delivery statuses in courier\'s shape', async () => {
    const before = await gw.queue.getJobCountByTypes('waiting', 'active', 'completed', 'failed', 'delayed');
    expect((await post(gw, waFixture('statuses.json'))).body).toEqual({ status: 'ok', stored: 0, kept_unreadable: 0 });
    expect(await gw.queue.getJobCountByTypes('waiting', 'active', 'completed', 'failed', 'delayed')).toBe(before);
  });

  it('holds back an acknowledgement queued before the person was said not safe to contact, when the paused queue resumes', async () => {
    const replies = gw.services.whatsappReplies!.queue;
    await replies.pause();
    let reference: string;
    try {
      const res = await post(gw, inbound([{ from: '250788555031', id: 'wamid.NS1', type: 'text', text: { body: 'MSAADA mlango umevunjwa' } }]));
      expect(res.status).toBe(200);
      // The reply job says which record it names (the number is sealed in it).
      const waiting = (await replies.getWaiting()).find((j) => (gw.services.codec.decode(j.data, sealContext.job(j.queueName)) as { waId?: string }).waId === '250788555031')!;
      reference = (waiting.data as { reference: string }).reference;
      await eventually(() => gw.references.get(reference));
      // Meanwhile (Meta refusing, the queue paused) a caseworker learns someone else reads this phone.
      await gw.references.lowerSafeToContact(reference);
    } finally {
      await replies.resume();
    }
    await untilGatewayDrained(gw);
    expect(graph.requests.filter((r) => JSON.parse(r.body.toString()).to === '250788555031')).toHaveLength(0);
    const timeline = (await gw.services.trace.timeline(reference)).map((e) => ({ ...e.detail, event: e.event }));
    expect(timeline).toContainEqual({ event: 'reply_skipped', queue: 'whatsapp-replies', reason: 'held_back' });
    expect(await scrapeMetrics(gw)).toMatch(/gateway_replies_skipped_total\{queue="whatsapp-replies",reason="not_safe"\} 1/);
  });

  it("confirms a STOP over WhatsApp, and a START then STOP waiting in a paused queue leave the number the STOP's confirmation alone", async () => {
    const to = (waId: string) => graph.requests.filter((r) => JSON.parse(r.body.toString()).to === waId).map((r) => (JSON.parse(r.body.toString()) as { text: { body: string } }).text.body);
    expect((await post(gw, inbound([{ from: '250788555041', id: 'wamid.STOP1', type: 'text', text: { body: 'STOP' } }]))).status).toBe(200);
    await eventually(() => (to('250788555041').length === 1 ? true : null));
    const replies = gw.services.whatsappReplies!.queue;
    await replies.pause();
    try {
      for (const [id, body] of [['wamid.START2', 'START'], ['wamid.STATUS2', 'STATUS'], ['wamid.STOP2', 'STOP']]) {
        expect((await post(gw, inbound([{ from: '250788555042', id, type: 'text', text: { body } }]))).status).toBe(200);
      }
    } finally {
      await replies.resume();
    }
    await untilGatewayDrained(gw);
    // Opted out at the end: only the STOP's confirmation reaches the number, never the START's nor the STATUS answer.
    expect(to('250788555042')).toHaveLength(1);
    expect(to('250788555042')[0]).toBe(to('250788555041')[0]);
    // The other way round, a STOP then a START: opted in at the end, the number hears the START's confirmation alone.
    await replies.pause();
    try {
      for (const [id, body] of [['wamid.STOP3', 'STOP'], ['wamid.START3', 'START']]) {
        expect((await post(gw, inbound([{ from: '250788555043', id, type: 'text', text: { body } }]))).status).toBe(200);
      }
    } finally {
      await replies.resume();
    }
    await untilGatewayDrained(gw);
    expect(to('250788555043')).toHaveLength(1);
    expect(to('250788555043')[0]).not.toBe(to('250788555041')[0]);
  });

  it('never logs the personal data it handled', async () => {
    await untilGatewayDrained(gw);
    expectNoPersonalData(gw.logs.text, PERSONAL_DATA);
  });
});
