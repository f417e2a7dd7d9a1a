import { createHmac } from 'node:crypto';
import request from 'supertest';
import { createLogger } from '../../src/logger';
import { startWorkers, type RunningWorkers } from '../../workers/run-worker';
import { purgeExpired } from '../../src/queues/retention';
import { LogCapture, shippedMappings, startGateway, testConfig, uniquePrefix, type Gateway } from '../support/gateway';
import { eventually } from '../support/eventually';

const APP_SECRET = 'fb_app_secret_worker';

/*
 * Scaled out: the API has WHATSAPP_APP_SECRET (it verifies Meta's signatures), the worker process does not
 * (it sends no WhatsApp and verifies nothing). What the API keeps must still become a dead letter.
 */
describe('unreadable WhatsApp messages on a worker without WHATSAPP_APP_SECRET', () => {
  let gw: Gateway;
  let workers: RunningWorkers;

  beforeAll(async () => {
    const prefix = uniquePrefix('wa-unreadable-worker');
    gw = await startGateway({ prefix, workers: false, env: { WHATSAPP_APP_SECRET: APP_SECRET } });
    workers = startWorkers(testConfig(prefix), createLogger('warn', new LogCapture()), shippedMappings());
  });

  afterAll(async () => {
    await workers.close(5000);
    await gw.close();
  });

  it('moves the kept message to the failed set, where the dead-letter view shows it', async () => {
    const body = JSON.stringify({ object: 'page', entry: [] });
    const signature = `sha256=${createHmac('sha256', APP_SECRET).update(body).digest('hex')}`;
    const res = await request(gw.app).post('/webhooks/whatsapp').set('X-Hub-Signature-256', signature).set('Content-Type', 'application/json').send(body);
    expect(res.body).toEqual({ status: 'ok', stored: 0, kept_unreadable: 1 });
    const queue = gw.services.whatsappUnreadable.queue;
    await eventually(async () => (await queue.getJobCountByTypes('failed')) === 1);
    expect(await queue.getJobCountByTypes('wait', 'active', 'delayed', 'prioritized')).toBe(0);
    // The only copy of a message Meta was told we have: no purge and no failed-job age limit may delete it.
    await purgeExpired([queue], { completedMs: 0, deadLetterMs: 0 }, createLogger('silent'));
    const [kept] = await queue.getJobs(['failed']);
    expect(kept!.opts.removeOnFail).toBe(false);
    expect(await queue.getJobCountByTypes('failed')).toBe(1);
  });
});
