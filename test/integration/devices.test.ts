import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import request from 'supertest';
import webpush from 'web-push';
import { FakePushService } from '../../demo/sandbox/push-service';
import { gatewayKey } from '../../src/store/keys';
import { QUEUES } from '../../src/queues/names';
import { scrapeMetrics, startGateway, uniquePrefix, type Gateway, webPushEnv } from '../support/gateway';
import { eventually } from '../support/eventually';

const ADMIN = 'admin-token-devices-1';
const DAY = 86_400;

/** A lost phone must stop receiving alerts: devices are listed, revoked, expire, and belong to one user. */
describe('caseworker devices', () => {
  const vapid = webpush.generateVAPIDKeys();
  let gw: Gateway;
  let push: FakePushService;
  const admin = (r: request.Test) => r.set('Authorization', `Bearer ${ADMIN}`).set('X-Operator', 'it.officer');
  const notice = () => ({ event: 'assigned' as const, recordType: 'case' as const, recordId: randomUUID(), caseIdDisplay: 'cp-7', urgent: false });
  const notify = (user: string) => gw.services.notifications.push!.notify(user, notice(), randomUUID(), null);

  async function subscribe(user: string, subscription: ReturnType<FakePushService['subscribe']>): Promise<void> {
    const { body } = await admin(request(gw.app).post('/admin/enrollments').send({ user_name: user }));
    expect((await request(gw.app).post('/push/subscriptions').send({ enrollment_token: body.token, subscription, language: 'eng' })).status).toBe(201);
  }
  const devicesOf = async (user: string) => (await admin(request(gw.app).get('/admin/devices').query({ user_name: user }))).body;
  const actions = async () => (await admin(request(gw.app).get('/admin/audit'))).body.entries.map((e: { action: string }) => e.action);

  beforeAll(async () => {
    push = await FakePushService.start(vapid.publicKey);
    gw = await startGateway({
      prefix: uniquePrefix('devices'),
      workers: false,
      env: {
        ADMIN_TOKEN: ADMIN,
        ...webPushEnv(vapid, new URL(push.origin).host),
        PUSH_SUBSCRIPTION_TTL_DAYS: '30',
      },
    });
  });
  afterAll(async () => {
    await gw.close();
    await push.stop();
  });

  it('lists a caseworker’s devices without revealing endpoints, and revokes one so it gets no more alerts', async () => {
    const phone = push.subscribe('lost-phone');
    await subscribe('amina', phone);
    await subscribe('amina', push.subscribe('desk-browser'));
    const listed = await devicesOf('amina');
    expect(listed.count).toBe(2);
    expect(listed.devices[0]).toEqual({ id: expect.any(String), user_name: 'amina', service: new URL(push.origin).host, language: 'eng', expires_at: expect.any(String), expiring_soon: false });
    const text = JSON.stringify(listed);
    for (const secret of [phone.endpoint, '/push/lost-phone', phone.keys.auth, phone.keys.p256dh]) expect(text).not.toContain(secret);
    const days = (Date.parse(listed.devices[0].expires_at) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29.9);

    const ids: string[] = listed.devices.map((d: { id: string }) => d.id);
    const lost = (await gw.services.notifications.subscriptions.list('amina')).find((d) => d.subscription.endpoint === phone.endpoint)!.endpointHash;
    expect(ids).toContain(lost);
    const revoked = await admin(request(gw.app).delete(`/admin/devices/${lost}`));
    expect(revoked.status).toBe(200);
    expect(revoked.body).toEqual({ status: 'revoked', device: { id: lost, user_name: 'amina' } });
    expect((await admin(request(gw.app).delete(`/admin/devices/${lost}`))).status).toBe(404);
    expect(await notify('amina')).toBe(1);
    expect((await devicesOf('amina')).devices.map((d: { id: string }) => d.id)).not.toContain(lost);
    expect(await actions()).toEqual(expect.arrayContaining(['push.devices_listed', 'push.device_revoked', 'push.device_enrolled']));
  });

  it('answers 422 to a bad user name or device id, and 401 without the token', async () => {
    expect((await admin(request(gw.app).get('/admin/devices'))).status).toBe(422);
    expect((await admin(request(gw.app).get('/admin/devices').query({ user_name: 'not valid!' }))).status).toBe(422);
    expect((await admin(request(gw.app).delete('/admin/devices/x'))).status).toBe(422);
    expect((await request(gw.app).get('/admin/devices').query({ user_name: 'amina' })).status).toBe(401);
    expect((await request(gw.app).delete('/admin/devices/abcdefabcdef')).status).toBe(401);
  });

  it('gives an endpoint one owner: re-enrolling it for another user removes the first user’s entry', async () => {
    const shared = push.subscribe('handed-over-phone');
    await subscribe('first_user', shared);
    await subscribe('second_user', shared);
    expect(await notify('first_user')).toBe(0);
    expect((await devicesOf('first_user')).count).toBe(0);
    expect((await devicesOf('second_user')).count).toBe(1);
    const entries = (await admin(request(gw.app).get('/admin/audit'))).body.entries as Array<{ action: string; detail?: Record<string, unknown> }>;
    expect(entries.find((e) => e.action === 'push.device_enrolled' && e.detail?.user_name === 'second_user')?.detail?.moved_from).toBe('first_user');
  });

  it('expires a device that does not re-subscribe, and renews one that does', async () => {
    const phone = push.subscribe('quiet-phone');
    await subscribe('rehema', phone);
    const [{ id }] = (await devicesOf('rehema')).devices;
    const owner = gatewayKey(gw.config.QUEUE_PREFIX, 'push', 'endpoint', id);
    await gw.redis.expire(owner, 60);
    await subscribe('rehema', phone);
    expect(await gw.redis.ttl(owner)).toBeGreaterThan(30 * DAY - 60);
    await gw.redis.pexpire(owner, 1);
    await eventually(async () => (await gw.redis.exists(owner)) === 0);
    expect(await notify('rehema')).toBe(0);
    expect(await gw.redis.hlen(gatewayKey(gw.config.QUEUE_PREFIX, 'push', 'user', 'rehema'))).toBe(0);
  });

  it('does the same from the shell: npm run admin -- devices list|revoke', async () => {
    await subscribe('shell_user', push.subscribe('shell-phone'));
    const env = { ...process.env, REDIS_URL: gw.config.REDIS_URL, QUEUE_PREFIX: gw.config.QUEUE_PREFIX };
    const run = (...args: string[]) => promisify(execFile)('npx', ['tsx', 'src/cli/admin.ts', ...args, '--actor', 'ops'], { env, cwd: `${__dirname}/../..` });
    const listed = JSON.parse((await run('devices', 'list', 'shell_user')).stdout) as Array<{ id: string }>;
    expect(listed).toHaveLength(1);
    expect(JSON.parse((await run('devices', 'revoke', listed[0]!.id)).stdout)).toEqual({ id: listed[0]!.id, user_name: 'shell_user' });
    expect(await notify('shell_user')).toBe(0);
  }, 30000);
});

/** A device in use must not stop receiving alerts at PUSH_SUBSCRIPTION_TTL_DAYS, and one about to stop must be visible. */
describe('device expiry while alerts flow', () => {
  const vapid = webpush.generateVAPIDKeys();
  let gw: Gateway;
  let push: FakePushService;
  const admin = (r: request.Test) => r.set('Authorization', `Bearer ${ADMIN}`);
  const expiringGauge = async () => Number(/^gateway_push_devices_expiring (\d+)$/m.exec(await scrapeMetrics(gw))?.[1]);

  beforeAll(async () => {
    push = await FakePushService.start(vapid.publicKey);
    gw = await startGateway({
      prefix: uniquePrefix('devexpiry'),
      env: {
        ADMIN_TOKEN: ADMIN,
        ...webPushEnv(vapid, new URL(push.origin).host),
        PUSH_SUBSCRIPTION_TTL_DAYS: '30',
      },
    });
  });
  afterAll(async () => {
    await gw.close();
    await push.stop();
  });

  it('renews a device at each delivery, and shows one close to expiry (listing and metric, no user names)', async () => {
    const phone = push.subscribe('busy-phone');
    const { body } = await admin(request(gw.app).post('/admin/enrollments').send({ user_name: 'baraka' }));
    expect((await request(gw.app).post('/push/subscriptions').send({ enrollment_token: body.token, subscription: phone })).status).toBe(201);
    const [{ id }] = (await admin(request(gw.app).get('/admin/devices').query({ user_name: 'baraka' }))).body.devices;
    const owner = gatewayKey(gw.config.QUEUE_PREFIX, 'push', 'endpoint', id);
    // 29 days after enrollment, with alerts delivered all along: 1 day left.
    await gw.redis.expire(owner, DAY);
    expect((await admin(request(gw.app).get('/admin/devices').query({ user_name: 'baraka' }))).body.devices[0].expiring_soon).toBe(true);
    const metrics = await scrapeMetrics(gw);
    expect(metrics).toMatch(/^gateway_push_devices_expiring 1$/m);
    expect(metrics).not.toMatch(/baraka/);

    expect(await gw.services.notifications.push!.notify('baraka', { event: 'assigned', recordType: 'case', recordId: randomUUID(), caseIdDisplay: 'cp-9', urgent: false }, randomUUID(), null)).toBe(1);
    const queue = gw.services.registry.get(QUEUES.push);
    await eventually(async () => push.deliveries.some((d) => d.device === 'busy-phone'));
    // Completed jobs are not kept: the drained queue says the worker has finished with it.
    await eventually(async () => Object.values(await queue.getJobCounts('waiting', 'active', 'delayed', 'failed')).every((n) => n === 0));
    expect(await gw.redis.ttl(owner)).toBeGreaterThan(30 * DAY - 60);
    const [device] = (await admin(request(gw.app).get('/admin/devices').query({ user_name: 'baraka' }))).body.devices;
    expect(device.expiring_soon).toBe(false);
    expect(await expiringGauge()).toBe(0);
  });

  it('audits a device removing itself (DELETE /push/subscriptions)', async () => {
    const phone = push.subscribe('leaving-phone');
    const { body } = await admin(request(gw.app).post('/admin/enrollments').send({ user_name: 'neema' }));
    expect((await request(gw.app).post('/push/subscriptions').send({ enrollment_token: body.token, subscription: phone })).status).toBe(201);
    expect((await request(gw.app).delete('/push/subscriptions').send({ endpoint: phone.endpoint, keys: { auth: phone.keys.auth } })).status).toBe(200);
    const entries = (await admin(request(gw.app).get('/admin/audit'))).body.entries as Array<{ actor: string; action: string; detail?: Record<string, unknown> }>;
    const entry = entries.find((e) => e.action === 'push.device_unsubscribed');
    expect(entry).toMatchObject({ actor: 'neema', detail: { user_name: 'neema' } });
    expect(JSON.stringify(entries)).not.toContain(phone.endpoint);
  });
});
