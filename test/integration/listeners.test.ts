import { randomBytes } from 'node:crypto';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import webpush from 'web-push';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { createApp } from '../../src/app';
import { createLogger } from '../../src/logger';
import { deleteByPrefix } from '../../src/store/keys';
import { shippedMappings, startGateway, TEST_REDIS_URL, uniquePrefix, WEBHOOK_TOKEN, type Gateway, webPushEnv } from '../support/gateway';
import { eventually } from '../support/eventually';

const ADMIN = 'admin-token-listeners-1';

const freePort = () =>
  new Promise<number>((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (probe.address() as net.AddressInfo).port;
      probe.close(() => resolve(port));
    });
  });

/** Whether anything accepts a TCP connection at host:port. */
const accepts = (host: string, port: number) =>
  new Promise<boolean>((resolve) => {
    const s = net.connect({ host, port }, () => s.end(() => resolve(true)));
    s.once('error', () => resolve(false));
  });

describe('listeners: what each port serves', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startGateway({ prefix: uniquePrefix('listeners'), workers: false, env: { ADMIN_TOKEN: ADMIN } });
  });
  afterAll(() => gw.close());

  const appFor = (surface: 'public' | 'admin') =>
    createApp({ config: gw.config, logger: createLogger('silent'), redis: gw.redis, services: gw.services, intents: [...shippedMappings().keys()], surface });

  it('on one shared port, /metrics needs the admin token', async () => {
    expect((await request(gw.app).get('/metrics')).status).toBe(401);
    expect((await request(gw.app).get('/metrics').set('Authorization', `Bearer ${ADMIN}`)).status).toBe(200);
  });

  it('the public listener serves no admin, dashboard or metrics route', async () => {
    const app = appFor('public');
    for (const p of ['/metrics', '/admin/audit', '/admin/queues', '/admin/devices?user_name=a']) {
      expect([p, (await request(app).get(p).set('Authorization', `Bearer ${ADMIN}`)).status]).toEqual([p, 404]);
    }
    expect((await request(app).get('/healthz')).status).toBe(200);
    expect((await request(app).post('/webhooks/rapidpro/referral').set('Authorization', `Token ${WEBHOOK_TOKEN}`).type('json').send('{}')).status).toBe(422);
  });

  it('the admin listener serves metrics, admin routes behind the token, and no webhook', async () => {
    const app = appFor('admin');
    expect((await request(app).get('/metrics')).status).toBe(200);
    expect((await request(app).get('/admin/audit')).status).toBe(401);
    expect((await request(app).get('/admin/audit').set('Authorization', `Bearer ${ADMIN}`)).status).toBe(200);
    expect((await request(app).post('/webhooks/rapidpro/referral').set('Authorization', `Token ${WEBHOOK_TOKEN}`).type('json').send('{}')).status).toBe(404);
  });

  it('the admin listener bound beyond loopback (0.0.0.0 in a container) keeps /metrics behind the admin token', async () => {
    const app = createApp({ config: { ...gw.config, ADMIN_HOST: '0.0.0.0' }, logger: createLogger('silent'), redis: gw.redis, services: gw.services, intents: [], surface: 'admin' });
    expect((await request(app).get('/metrics')).status).toBe(401);
    expect((await request(app).get('/metrics').set('Authorization', `Bearer ${ADMIN}`)).status).toBe(200);
  });

  it('the compiled gateway (what npm start runs) with ADMIN_PORT binds the admin listener to 127.0.0.1 only, and finds its assets', async () => {
    const root = path.join(__dirname, '..', '..');
    // What prestart does: build dist/ when it is missing or older than the sources.
    await promisify(execFile)(process.execPath, ['scripts/build-if-stale.mjs'], { cwd: root });
    const vapid = webpush.generateVAPIDKeys();
    const [port, adminPort] = [await freePort(), await freePort()];
    const prefix = uniquePrefix('listeners-main');
    const env = {
      PATH: process.env.PATH ?? '',
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: prefix,
      PRIMERO_URL: 'http://primero.test',
      PRIMERO_USER: 'u',
      PRIMERO_PASSWORD: 'p',
      ADMIN_TOKEN: ADMIN,
      // As production starts: its own hash key (outside development and test the start refuses without one).
      HASH_KEY: randomBytes(32).toString('base64'),
      PORT: String(port),
      ADMIN_PORT: String(adminPort),
      LOG_LEVEL: 'silent',
      ...webPushEnv(vapid),
    };
    const child = spawn(process.execPath, ['dist/src/main.js', 'api'], { cwd: root, env, stdio: 'ignore' });
    const exited = new Promise((r) => child.once('exit', r));
    try {
      await eventually(() => accepts('127.0.0.1', adminPort), 20000);
      const base = `http://127.0.0.1:${port}`;
      expect((await fetch(`${base}/metrics`)).status).toBe(404);
      expect((await fetch(`${base}/push/sw.js`)).status).toBe(200);
      expect(await (await fetch(`${base}/push`)).text()).toContain('/push/app.js');
      // The image's operator tool, as compiled JavaScript.
      const audit = await promisify(execFile)(process.execPath, ['dist/src/cli/admin.js', 'audit'], { cwd: root, env });
      expect(JSON.parse(audit.stdout)).toEqual([]);
      expect((await fetch(`http://127.0.0.1:${adminPort}/metrics`)).status).toBe(200);
      const external = Object.values(os.networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal);
      if (external) {
        expect(await accepts(external.address, port)).toBe(true);
        expect(await accepts(external.address, adminPort)).toBe(false);
      }
    } finally {
      child.kill('SIGTERM');
      await exited;
      await deleteByPrefix(gw.redis, prefix);
    }
  }, 120000);
});
