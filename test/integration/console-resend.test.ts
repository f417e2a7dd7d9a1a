import { UnrecoverableError, Worker } from 'bullmq';
import request from 'supertest';
import { createRedis } from '../../src/queues/connection';
import { QUEUES } from '../../src/queues/names';
import { eventually } from '../support/eventually';
import { startGateway, uniquePrefix, type Gateway } from '../support/gateway';

const ADMIN = 'admin-token-console-resend';

/** A "not confirmed" dead letter in the console: never replayed, resent only with a reason (audited). */
describe('the operator console and a message that may have reached the person', () => {
  let gw: Gateway;
  const cookieOf = (res: request.Response) => String(res.headers['set-cookie']?.[0] ?? '').split(';')[0]!;
  const csrfOf = (text: string) => /name="_csrf" value="([^"]+)"/.exec(text)?.[1] ?? '';
  const page = (cookie: string, url: string) => request(gw.app).get(url).set('Cookie', cookie);
  const submit = (cookie: string, url: string, fields: Record<string, string>, csrfFrom: string) =>
    request(gw.app).post(url).set('Cookie', cookie).set('Origin', 'http://127.0.0.1').set('Host', '127.0.0.1').type('form').send({ ...fields, _csrf: csrfOf(csrfFrom) });

  beforeAll(async () => {
    // No WhatsApp send settings: nothing works the whatsapp-replies queue but this test's own worker.
    gw = await startGateway({ prefix: uniquePrefix('console-resend'), env: { ADMIN_TOKEN: ADMIN } });
  });

  afterAll(async () => {
    await gw.close();
  });

  /** A WhatsApp acknowledgement settled as not confirmed, as the worker leaves one. */
  async function notConfirmedLetter(): Promise<string> {
    const queue = gw.services.registry.get(QUEUES.whatsappReplies);
    const job = (await queue.add('reply', { reference: 'K7M2P9QZ' }, { attempts: 1 }))!;
    const connection = createRedis(gw.config.REDIS_URL, 'worker');
    const worker = new Worker(QUEUES.whatsappReplies, async () => {
      throw new UnrecoverableError('not sent again, it may have gone out: WhatsApp did not answer the WhatsApp message (ECONNABORTED)');
    }, { connection, prefix: gw.config.QUEUE_PREFIX });
    await eventually(async () => (await job.getState()) === 'failed', 10_000, 'the dead letter');
    await worker.close();
    await connection.quit();
    return `${QUEUES.whatsappReplies}.${job.id}`;
  }

  it('offers Resend with a reason instead of Replay, refuses a replay, and resends only with a reason', async () => {
    const id = await notConfirmedLetter();
    const cookie = cookieOf(await request(gw.app).post('/admin/console/login').type('form').send({ token: ADMIN, operator: 'it.officer' }));
    const list = await page(cookie, '/admin/console/dead-letters');
    expect(list.text).toContain(`data-id="${id}"`);
    expect(list.text).not.toContain(`/dead-letters/${id}/replay`);
    const one = await page(cookie, `/admin/console/dead-letters/${id}`);
    expect(one.text).toContain(`/dead-letters/${id}/resend`);
    expect(one.text).not.toContain(`/dead-letters/${id}/replay`);
    expect((await submit(cookie, `/admin/console/dead-letters/${id}/replay`, {}, one.text)).status).toBe(409);
    expect((await submit(cookie, `/admin/console/dead-letters/${id}/resend`, {}, one.text)).status).toBeGreaterThanOrEqual(400);
    const resent = await submit(cookie, `/admin/console/dead-letters/${id}/resend`, { reason: 'no sent status from Meta' }, one.text);
    expect([resent.status, resent.headers.location]).toEqual([303, '/admin/console/dead-letters?done=resent']);
    const queue = gw.services.registry.get(QUEUES.whatsappReplies);
    expect(await queue.getJobState(id.slice(id.indexOf('.') + 1))).toBe('waiting');
    expect((await gw.services.audit.recent(5)).find((e) => e.action === 'dead_letter.resend')).toMatchObject({ actor: 'it.officer', target: id, detail: { reason: 'no sent status from Meta' } });
  });
});
