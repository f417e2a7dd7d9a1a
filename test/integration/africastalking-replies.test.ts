import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import nock from 'nock';
import request from 'supertest';
import { QueueUnavailableError } from '../../src/queues/deadline';
import { QUEUES } from '../../src/queues/names';
import { eventually } from '../support/eventually';
import { scrapeMetrics, startGateway, uniquePrefix, untilGatewayDrained, type Gateway } from '../support/gateway';
import { expectNoPersonalData } from '../support/personal-data';
import { acceptingPrimero, PRIMERO } from '../support/primero-fake';

const AT_TOKEN = 'africastalking-token-02';
const AT_KEY = 'africastalking-api-key-replies';
const SHORT_CODE = '21512';

/** What Africa's Talking answers a send it took (the official SDK's mock: 201, statusCode 101, "Success"). */
const SENT = JSON.stringify({ SMSMessageData: { Message: 'Sent to 1/1 Total Cost: KES 0.8000', Recipients: [{ statusCode: 101, number: '+254700000000', status: 'Success', cost: 'KES 0.8000', messageId: 'ATXid_1' }] } });

interface SendRequest {
  url: string;
  apiKey: string | undefined;
  form: Record<string, string>;
}

type Answer = { status: number; body: string } | 'silent';

/** A real HTTP server in the place of Africa's Talking's send API: records each form and answers as scripted (then 201 sent). */
async function fakeAfricasTalking(): Promise<{ url: string; sent: SendRequest[]; answerNext(...a: Answer[]): void; to(number: string): SendRequest[]; stop(): Promise<void> }> {
  const sent: SendRequest[] = [];
  const script: Answer[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      sent.push({ url: req.url ?? '', apiKey: req.headers.apikey as string | undefined, form: Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8'))) });
      const answer = script.shift() ?? { status: 201, body: SENT };
      // Silent: the request arrived and nothing comes back, as when the provider takes it and the answer is lost.
      if (answer === 'silent') return;
      res.writeHead(answer.status, { 'Content-Type': 'application/json' }).end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    sent,
    answerNext: (...a) => script.push(...a),
    to: (number) => sent.filter((s) => s.form.to === number),
    stop: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

let inbound = 0;
/** An inbound SMS as Africa's Talking posts it to the callback URL (the fields courier's handler reads). */
function atSms(from: string, text: string): Record<string, string> {
  inbound++;
  return { id: `0b7f2c1e-51d5-4bc8-8eb0-${String(inbound).padStart(12, '0')}`, from, to: SHORT_CODE, text, date: '2026-11-26T10:04:45Z' };
}

const post = (gw: Gateway, form: Record<string, string>) => request(gw.app).post(`/webhooks/africastalking/sms?token=${AT_TOKEN}`).type('form').send(form);

describe("Africa's Talking replies", () => {
  const SENDERS = ['+254711400001', '+254711400002', '+254711400003', '+254711400004', '+254711400005', '+254711400006', '+254711400007', '+254711400008', '+254711400010'];
  const PERSONAL_DATA = [...SENDERS, ...SENDERS.map((s) => s.slice(1)), 'nisaidie', 'baba ananipiga', 'maji hakuna', 'mama hayupo', 'my uncle hurts me', 'the teacher took my phone', 'jirani ananitisha', 'shule imefungwa', 'the driver asked for sex', AT_KEY];
  let gw: Gateway;
  let at: Awaited<ReturnType<typeof fakeAfricasTalking>>;

  beforeAll(async () => {
    acceptingPrimero('cp-at-replies');
    at = await fakeAfricasTalking();
    gw = await startGateway({
      prefix: uniquePrefix('at-replies'),
      env: {
        AFRICASTALKING_WEBHOOK_TOKEN: AT_TOKEN,
        AFRICASTALKING_USERNAME: 'sandbox',
        AFRICASTALKING_API_KEY: AT_KEY,
        AFRICASTALKING_FROM: SHORT_CODE,
        AFRICASTALKING_API_URL: at.url,
        REPLY_TIMEOUT_MS: '300',
        REPLY_RATE_PER_SECOND: '100',
        DATA_KEY: randomBytes(32).toString('base64'),
      },
    });
  });

  afterAll(async () => {
    await gw.close();
    await at.stop();
    nock.cleanAll();
    nock.enableNetConnect();
    expectNoPersonalData(gw.logs.text, PERSONAL_DATA);
  });

  const replies = () => gw.services.registry.get(QUEUES.africastalkingReplies);

  it("sends the acknowledgement, with the reference, to the sender's number through the send API", async () => {
    const res = await post(gw, atSms(SENDERS[0]!, 'MSAADA nisaidie baba ananipiga'));
    expect(res.status).toBe(200);
    const reference = res.body.reference as string;
    expect(reference).toMatch(/^[2-9A-HJ-NP-Z]{8}$/);
    const [sms] = await eventually(() => (at.to(SENDERS[0]!).length ? at.to(SENDERS[0]!) : null), 10_000, 'the acknowledgement');
    expect(sms!.url).toBe('/version1/messaging');
    expect(sms!.apiKey).toBe(AT_KEY);
    expect(sms!.form).toEqual({ username: 'sandbox', to: SENDERS[0], from: SHORT_CODE, message: expect.stringContaining(`Nambari yako ya kumbukumbu ni ${reference}.`) });
    // The acknowledgement repeats nothing the child wrote.
    expect(sms!.form.message).not.toContain('baba');
  });

  it('answers a re-delivered callback with the same reference and sends no second SMS', async () => {
    const form = atSms(SENDERS[1]!, 'HELP my uncle hurts me');
    const first = await post(gw, form);
    await eventually(() => at.to(SENDERS[1]!).length === 1, 10_000, 'the first acknowledgement');
    const again = await post(gw, form);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ reference: first.body.reference, duplicate: true });
    await untilGatewayDrained(gw);
    expect(at.to(SENDERS[1]!)).toHaveLength(1);
  });

  it('retries after a 5xx, which sent nothing, and the person gets the acknowledgement once', async () => {
    at.answerNext({ status: 500, body: 'Internal Server Error' });
    await post(gw, atSms(SENDERS[2]!, 'MSAADA maji hakuna'));
    await eventually(() => at.to(SENDERS[2]!).length === 2, 10_000, 'the retried send');
    await untilGatewayDrained(gw);
    expect(at.to(SENDERS[2]!)).toHaveLength(2);
    expect(await replies().getFailedCount()).toBe(0);
  });

  it('never sends again after a timeout (it may have gone out): the reply is kept as a dead letter saying so', async () => {
    at.answerNext('silent');
    const res = await post(gw, atSms(SENDERS[3]!, 'FEEDBACK the teacher took my phone'));
    expect(res.status).toBe(200);
    const [failed] = await eventually(async () => {
      const jobs = await replies().getFailed();
      return jobs.length ? jobs : null;
    }, 10_000, 'the dead letter');
    expect(failed!.failedReason).toMatch(/not sent again, it may have gone out/);
    expect(failed!.data.reference).toBe(res.body.reference);
    await untilGatewayDrained(gw);
    expect(at.to(SENDERS[3]!)).toHaveLength(1);
    // An operator's replay leaves it alone: the SMS may have reached the person, so only a resend after checking sends it.
    await expect(gw.services.deadLetters.replay(`${QUEUES.africastalkingReplies}.${failed!.id}`, 'test')).rejects.toThrow(/not confirmed/);
    expect(await (await replies().getJob(failed!.id!))!.isFailed()).toBe(true);
    expect(at.to(SENDERS[3]!)).toHaveLength(1);
    expect(await scrapeMetrics(gw)).toMatch(/gateway_messages_not_confirmed_total\{queue="africastalking-replies"\} 1/);
    // The claim lives in the job's hash: no key of its own names the number or the provider's message id.
    expect(await gw.redis.keys(`${gw.config.QUEUE_PREFIX}:gw:send-claim:*`)).toEqual([]);
    // The dead letter holds the number sealed, and forgetting the person removes it with the rest.
    expect(failed!.data).toEqual({ reference: res.body.reference, sensitive: false, answers: 'other', sealed: expect.stringMatching(/^s3\./) });
    const report = await gw.services.forget.forget(`tel:${SENDERS[3]}`, 'test');
    expect(report.references).toContain(res.body.reference);
    expect(await replies().getFailedCount()).toBe(0);
  });

  it("confirms STOP by SMS, then stores the person's messages without answering them", async () => {
    await post(gw, atSms(SENDERS[4]!, 'STOP'));
    const [confirmation] = await eventually(() => (at.to(SENDERS[4]!).length ? at.to(SENDERS[4]!) : null), 10_000, 'the STOP confirmation');
    expect(confirmation!.form.message).toContain('You will not receive more messages');
    const stored = await post(gw, atSms(SENDERS[4]!, 'HELP'));
    expect(stored.status).toBe(200);
    expect(stored.body.reference).toMatch(/^[2-9A-HJ-NP-Z]{8}$/);
    await untilGatewayDrained(gw);
    expect(at.to(SENDERS[4]!)).toHaveLength(1);
    // A STATUS answered before a STOP, both waiting in a paused queue: the number, opted out by then, gets no answer.
    const replies = gw.services.registry.get('africastalking-replies');
    await replies.pause();
    try {
      await post(gw, atSms(SENDERS[4]!, 'START'));
      await post(gw, atSms(SENDERS[4]!, 'STATUS'));
      await post(gw, atSms(SENDERS[4]!, 'STOP'));
    } finally {
      await replies.resume();
    }
    await untilGatewayDrained(gw);
    expect(at.to(SENDERS[4]!).map((s) => s.form.message)).toEqual([confirmation!.form.message, confirmation!.form.message]);
  });

  it('answers 200 with the reference when the reply cannot be queued: the message is stored, only the SMS is lost', async () => {
    const spy = jest.spyOn(gw.services.africasTalkingReplies!, 'enqueue').mockRejectedValueOnce(new QueueUnavailableError('Redis is unavailable'));
    try {
      const res = await post(gw, atSms(SENDERS[5]!, 'MSAADA mama hayupo'));
      expect(res.status).toBe(200);
      expect(res.body.reference).toMatch(/^[2-9A-HJ-NP-Z]{8}$/);
      expect(await eventually(() => gw.references.get(res.body.reference))).toMatchObject({ urn: `tel:${SENDERS[5]}` });
      const line = gw.logs.lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'message stored; its reply could not be queued');
      expect(line).toMatchObject({ reference: res.body.reference });
    } finally {
      spy.mockRestore();
    }
  });

  const timeline = async (reference: string) => (await gw.services.trace.timeline(reference)).map((e) => ({ ...e.detail, event: e.event }));

  it('holds back an acknowledgement queued before the person was said not safe to contact, when the paused queue resumes', async () => {
    await replies().pause();
    let reference: string;
    try {
      const res = await post(gw, atSms(SENDERS[6]!, 'MSAADA jirani ananitisha'));
      expect(res.status).toBe(200);
      reference = res.body.reference as string;
      await eventually(() => gw.references.get(reference));
      // Meanwhile (the account out of credit, the queue paused) a caseworker learns someone else reads this phone.
      await gw.references.lowerSafeToContact(reference);
    } finally {
      await replies().resume();
    }
    await untilGatewayDrained(gw);
    expect(at.to(SENDERS[6]!)).toHaveLength(0);
    expect(await timeline(reference)).toContainEqual({ event: 'reply_skipped', queue: QUEUES.africastalkingReplies, reason: 'held_back' });
    expect(await timeline(reference)).not.toContainEqual(expect.objectContaining({ event: 'acknowledgement_sent' }));
    expect(await scrapeMetrics(gw)).toMatch(/gateway_replies_skipped_total\{queue="africastalking-replies",reason="not_safe"\} 1/);
  });

  it('still sends a sensitive report the acknowledgement chosen for it once its record is made and protected', async () => {
    const flagged = nock(PRIMERO).post(/\/api\/v2\/cases\/[^/]+\/flags$/).reply(200, { data: { id: 1, message: 'sensitive', removed: false } });
    await replies().pause();
    let reference: string;
    try {
      const res = await post(gw, atSms(SENDERS[8]!, 'FEEDBACK sea the driver asked for sex'));
      reference = res.body.reference as string;
      expect((await eventually(() => gw.references.get(reference))).sensitive).toBe(true);
      await eventually(() => flagged.isDone(), 10_000, 'the sensitive flag');
    } finally {
      await replies().resume();
    }
    const [sms] = await eventually(() => (at.to(SENDERS[8]!).length ? at.to(SENDERS[8]!) : null), 10_000, 'the acknowledgement');
    expect(sms!.form.message).toBe(`Thank you for trusting us. Your reference is ${reference}. A trained focal point will handle this confidentially.`);
  });

  it("sends a new report's acknowledgement before its record is made (no link yet to hold it back)", async () => {
    await gw.queue.pause();
    try {
      const res = await post(gw, atSms(SENDERS[7]!, 'MSAADA shule imefungwa'));
      const [sms] = await eventually(() => (at.to(SENDERS[7]!).length ? at.to(SENDERS[7]!) : null), 10_000, 'the acknowledgement');
      expect(sms!.form.message).toContain(res.body.reference);
      expect(await gw.references.get(res.body.reference)).toBeNull();
    } finally {
      await gw.queue.resume();
    }
    await untilGatewayDrained(gw);
  });

  it('never logs the personal data it handled', async () => {
    await untilGatewayDrained(gw);
    expectNoPersonalData(gw.logs.text, PERSONAL_DATA);
  });
});

describe("Africa's Talking without send settings", () => {
  const SENDER = '+254711400009';
  let gw: Gateway;

  beforeAll(async () => {
    acceptingPrimero('cp-at-no-send');
    gw = await startGateway({ prefix: uniquePrefix('at-no-send'), env: { AFRICASTALKING_WEBHOOK_TOKEN: AT_TOKEN } });
  });

  afterAll(async () => {
    await gw.close();
    nock.cleanAll();
    nock.enableNetConnect();
  });

  it('stores the message and answers 200 as before, queueing no reply', async () => {
    const res = await post(gw, atSms(SENDER, 'MSAADA nisaidie'));
    expect(res.status).toBe(200);
    const link = await eventually(() => gw.references.get(res.body.reference));
    expect(link).toMatchObject({ channel: 'africastalking', urn: `tel:${SENDER}` });
    await untilGatewayDrained(gw);
    expect(await gw.services.registry.get(QUEUES.africastalkingReplies).getJobCountByTypes('waiting', 'active', 'completed', 'failed', 'delayed')).toBe(0);
  });

  it('never logs the personal data it handled', async () => {
    await untilGatewayDrained(gw);
    expectNoPersonalData(gw.logs.text, [SENDER, SENDER.slice(1), 'nisaidie']);
  });
});
