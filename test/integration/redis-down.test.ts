import request from 'supertest';
import { startGateway, uniquePrefix, WEBHOOK_TOKEN, type Gateway } from '../support/gateway';
import { eventually } from '../support/eventually';
import { PrivateRedis } from '../../demo/sandbox/redis-server';

const body = {
  contact: { uuid: '102422cf-2c55-48fa-9ef3-06fe9353a4cc', urn: 'tel:+250788123123' },
  flow: { uuid: '649754a7-5692-4b14-a1a9-e4c5fe4d18b4' },
  results: { age: { value: '12', category: 'Valid' } },
};

describe('when Redis goes away', () => {
  let redis: PrivateRedis;
  let gw: Gateway;

  beforeAll(async () => {
    redis = await PrivateRedis.start();
    gw = await startGateway({ prefix: uniquePrefix('down'), workers: false, env: { REDIS_URL: redis.url, ENQUEUE_TIMEOUT_MS: '500' } });
  });

  afterAll(async () => {
    await gw.close();
    await redis.destroy();
  });

  it('accepts while Redis answers, then answers 503 (never 2xx) and readyz fails once it is gone', async () => {
    const ok = await request(gw.app).post('/webhooks/rapidpro/referral').set('Authorization', `Token ${WEBHOOK_TOKEN}`).type('json').send(body);
    expect(ok.status).toBe(202);

    await redis.stop();
    const down = await request(gw.app)
      .post('/webhooks/rapidpro/referral')
      .set('Authorization', `Token ${WEBHOOK_TOKEN}`)
      .type('json')
      .send({ ...body, results: { age: { value: '13', category: 'Valid' } } });
    expect(down.status).toBe(503);
    expect(down.headers['retry-after']).toBe('5');
    expect(down.body.error.code).toBe('unavailable');

    const ready = await request(gw.app).get('/readyz');
    expect(ready.status).toBe(503);
    expect((await request(gw.app).get('/healthz')).status).toBe(200);
  });

  it('accepts again once Redis is back, without a restart', async () => {
    await redis.boot();
    const back = await eventually(async () => {
      const res = await request(gw.app).post('/webhooks/rapidpro/referral').set('Authorization', `Token ${WEBHOOK_TOKEN}`).type('json').send(body);
      return res.status === 202 ? res : undefined;
    });
    expect(back.body.status).toBe('accepted');
    expect((await request(gw.app).get('/readyz')).status).toBe(200);
  });
});
