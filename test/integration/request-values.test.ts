import request from 'supertest';
import webpush from 'web-push';
import { own } from '../../src/domain/own';
import { startGateway, uniquePrefix, type Gateway, webPushEnv } from '../support/gateway';

const ADMIN = 'admin-token-holes-1';
const AT_TOKEN = 'at-token-holes-1';

/** Values a caller controls: object keys, the order of checks, and where a secret may travel. */
describe('request values', () => {
  const vapid = webpush.generateVAPIDKeys();
  let gw: Gateway;

  beforeAll(async () => {
    gw = await startGateway({
      prefix: uniquePrefix('holes'),
      workers: false,
      env: {
        ADMIN_TOKEN: ADMIN,
        AFRICASTALKING_WEBHOOK_TOKEN: AT_TOKEN,
        ...webPushEnv(vapid, 'push.test.local:8443'),
      },
    });
  });
  afterAll(() => gw.close());

  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty'])('serves the enrollment page in the default language for ?lang=%s', async (lang) => {
    const res = await request(gw.app).get('/push').query({ lang });
    expect(res.status).toBe(200);
    expect(res.text).toContain('<html lang="eng"');
  });

  it('stores the default language for a subscription that asks for "toString"', async () => {
    const { body } = await request(gw.app).post('/admin/enrollments').set('Authorization', `Bearer ${ADMIN}`).send({ user_name: 'cp_worker' });
    const keys = { p256dh: Buffer.alloc(65, 4).toString('base64url'), auth: Buffer.alloc(16, 1).toString('base64url') };
    const res = await request(gw.app).post('/push/subscriptions').send({ enrollment_token: body.token, subscription: { endpoint: 'https://push.test.local:8443/d/1', keys }, language: 'toString' });
    expect(res.status).toBe(201);
    expect((await gw.services.notifications.subscriptions.list('cp_worker')).map((s) => s.language)).toEqual(['eng']);
  });

  it('finds only own properties', () => {
    expect(own({ eng: 1 }, 'constructor')).toBeUndefined();
    expect(own({ eng: 1 }, '__proto__')).toBeUndefined();
    expect(own({ eng: 1 }, 'eng')).toBe(1);
  });

  it("checks Africa's Talking's token before reading the body", async () => {
    const big = `id=1&from=%2B254700000001&to=21512&text=${'x'.repeat(80 * 1024)}`;
    expect((await request(gw.app).post('/webhooks/africastalking/sms?token=wrong-token-x').type('form').send(big)).status).toBe(401);
    expect((await request(gw.app).post(`/webhooks/africastalking/sms?token=${AT_TOKEN}`).type('form').send(big)).status).toBe(413);
  });

  it('does not take the admin token from the query string', async () => {
    for (const path of ['/admin/audit', '/admin/dead-letters', '/admin/queues', '/admin/queues/api/queues']) {
      expect([path, (await request(gw.app).get(path).query({ token: ADMIN })).status]).toEqual([path, 401]);
    }
  });
});
