import { randomBytes } from 'node:crypto';
import nock from 'nock';
import request from 'supertest';
import { QUEUES } from '../../src/queues/names';
import { eventually } from '../support/eventually';
import { scrapeMetrics, startGateway, uniquePrefix, type Gateway } from '../support/gateway';
import { HttpRecorder } from '../support/http-recorder';
import { expectNoPersonalData } from '../support/personal-data';
import { acceptingPrimero } from '../support/primero-fake';

const AT_TOKEN = 'africastalking-token-03';
const SENDER = '+254711400099';
const SENT = JSON.stringify({ SMSMessageData: { Message: 'Sent to 1/1', Recipients: [{ statusCode: 101, number: SENDER, status: 'Success', cost: 'KES 0.8000', messageId: 'ATXid_9' }] } });

/** A worker that dies while Africa's Talking holds the SMS: the attempt that picks the job up never sends it again. */
describe("an Africa's Talking reply whose worker died mid-send", () => {
  let gw: Gateway;
  let at: HttpRecorder;

  beforeAll(async () => {
    acceptingPrimero('cp-at-stalled');
    at = await HttpRecorder.start({ status: 201, body: SENT });
    gw = await startGateway({
      prefix: uniquePrefix('at-stalled'),
      env: {
        AFRICASTALKING_WEBHOOK_TOKEN: AT_TOKEN, AFRICASTALKING_USERNAME: 'sandbox', AFRICASTALKING_API_KEY: 'africastalking-api-key-stalled', AFRICASTALKING_FROM: '21512',
        AFRICASTALKING_API_URL: at.url, REPLY_TIMEOUT_MS: '3000', JOB_LOCK_MS: '1000', DATA_KEY: randomBytes(32).toString('base64'),
      },
    });
  });

  afterAll(async () => {
    await gw.close();
    await at.stop();
    nock.cleanAll();
    nock.enableNetConnect();
    expectNoPersonalData(gw.logs.text, [SENDER, SENDER.slice(1), 'nisaidie']);
  });

  it('settles as not confirmed (counted, traced, "may have gone out"), not as a bare stalled job, and sends once', async () => {
    at.answerNext('silent');
    const form = { id: '0b7f2c1e-51d5-4bc8-8eb0-000000000099', from: SENDER, to: '21512', text: 'MSAADA nisaidie', date: '2026-11-26T10:04:45Z' };
    const res = await request(gw.app).post(`/webhooks/africastalking/sms?token=${AT_TOKEN}`).type('form').send(form);
    const replies = gw.services.registry.get(QUEUES.africastalkingReplies);
    // The send is in flight; its lock lapses, as when the worker is killed: BullMQ's stalled check hands the job on.
    await eventually(() => at.requests.length === 1, 10_000, 'the send to reach Africa\u2019s Talking');
    const [active] = await replies.getActive();
    await gw.redis.del(`${gw.config.QUEUE_PREFIX}:${QUEUES.africastalkingReplies}:${active!.id}:lock`);
    const [failed] = await eventually(async () => {
      const jobs = await replies.getFailed();
      return jobs.length ? jobs : null;
    }, 15_000, 'the dead letter');
    expect(failed!.failedReason).toMatch(/not sent again, it may have gone out/);
    expect(at.requests).toHaveLength(1);
    expect(await scrapeMetrics(gw)).toMatch(/gateway_messages_not_confirmed_total\{queue="africastalking-replies"\} 1/);
    expect(JSON.stringify(await gw.services.trace.timeline(res.body.reference as string))).toContain('message_not_confirmed');
  });
});
