import { execFile } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import nock from 'nock';
import request from 'supertest';
import { createApp } from '../../src/app';
import { createLogger } from '../../src/logger';
import { startGateway, TEST_REDIS_URL, uniquePrefix, WEBHOOK_TOKEN, type Gateway } from '../support/gateway';
import { PRIMERO } from '../support/primero-fake';
import { eventually } from '../support/eventually';

const ADMIN = 'admin-token-dashboard-1';
const PHONE = '+243810000777';
const WORDS = 'nobody at home will listen to me';

describe('the queue dashboard', () => {
  let gw: Gateway;
  let reference: string;

  const login = async (forwardedProto?: string) => {
    const r = request(gw.app).post('/admin/queues/login').type('form');
    if (forwardedProto) r.set('X-Forwarded-Proto', forwardedProto);
    return r.send({ token: ADMIN });
  };
  const cookieOf = (res: request.Response) => String(res.headers['set-cookie']?.[0] ?? '').split(';')[0]!;

  beforeAll(async () => {
    nock.disableNetConnect();
    nock.enableNetConnect(/127\.0\.0\.1|localhost/);
    nock(PRIMERO).persist().post('/api/v2/cases').reply(422, { errors: [{ status: 422, detail: 'sex', message: ['is invalid'] }] });
    gw = await startGateway({ prefix: uniquePrefix('dashboard'), env: { ADMIN_TOKEN: ADMIN, TRUST_PROXY: 'loopback' } });
    const res = await request(gw.app)
      .post('/webhooks/rapidpro/referral')
      .set('Authorization', `Token ${WEBHOOK_TOKEN}`)
      .type('json')
      .send({ contact: { uuid: randomUUID(), urn: `tel:${PHONE}` }, flow: { uuid: randomUUID() }, run: { uuid: randomUUID() }, results: { concern: { value: WORDS, category: 'All Responses' } } });
    reference = res.body.reference;
    await eventually(async () => (await gw.queue.getJobState(`m-${reference}`)) === 'failed');
  });
  afterAll(async () => {
    await gw.close();
    nock.cleanAll();
    nock.enableNetConnect();
  });

  it('shows masked job data to a logged-in browser, whose cookie holds a session id, not the token', async () => {
    expect((await request(gw.app).get('/admin/queues')).status).toBe(401);
    expect((await request(gw.app).get(`/admin/queues?token=${ADMIN}`)).status).toBe(401);
    expect((await request(gw.app).post('/admin/queues/login').type('form').send({ token: 'wrong-token-123' })).status).toBe(401);
    const res = await login();
    expect(res.status).toBe(303);
    const setCookie = String(res.headers['set-cookie']![0]);
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    expect(setCookie).not.toContain(ADMIN);
    expect(setCookie).not.toContain(encodeURIComponent(ADMIN));
    const cookie = cookieOf(res);
    expect((await request(gw.app).get('/admin/queues').set('Cookie', cookie)).text).toContain('<html');
    const api = await request(gw.app).get('/admin/queues/api/queues').query({ activeQueue: 'intake', status: 'failed', page: 1 }).set('Cookie', cookie);
    expect(api.status).toBe(200);
    expect(api.text).toContain('[masked');
    expect(api.text).not.toContain(WORDS);
    expect(api.text).not.toContain(PHONE);
    // The raw token as a cookie (what the old dashboard set) opens nothing.
    expect((await request(gw.app).get('/admin/queues/api/queues').set('Cookie', `pmg_admin=${ADMIN}; pmg_admin_session=${ADMIN}`)).status).toBe(401);
    await request(gw.app).post('/admin/queues/logout').set('Cookie', cookie);
    expect((await request(gw.app).get('/admin/queues/api/queues').set('Cookie', cookie)).status).toBe(401);
  });

  it('marks the cookie Secure unless the browser is on this machine over plain HTTP, TRUST_PROXY set or not', async () => {
    const secure = (res: request.Response) => /;\s*Secure/.test(String(res.headers['set-cookie']![0]));
    // TLS ended at a proxy nobody named in TRUST_PROXY: the request looks like plain HTTP, the cookie keeps the flag.
    const unnamedProxy = createApp({ config: { ...gw.config, TRUST_PROXY: undefined }, logger: createLogger('silent'), redis: gw.redis, services: gw.services, intents: [] });
    expect(secure(await request(unnamedProxy).post('/admin/queues/login').set('Host', 'gateway.example.org').type('form').send({ token: ADMIN }))).toBe(true);
    expect(secure(await login('https'))).toBe(true);
    expect(secure(await login())).toBe(false);
  });

  it('refuses every write, so a message changes only through the audited admin routes', async () => {
    const id = `m-${reference}`;
    const before = (await gw.queue.getJob(id))!.data;
    const writes: Array<['put' | 'patch' | 'post', string, object?]> = [
      ['patch', `/admin/queues/api/queues/intake/${id}/update-data`, { jobData: { masked: true } }],
      ['put', `/admin/queues/api/queues/intake/${id}/retry`],
      ['put', `/admin/queues/api/queues/intake/${id}/clean`],
      ['put', `/admin/queues/api/queues/intake/${id}/promote`],
      ['put', '/admin/queues/api/queues/intake/retry/failed'],
      ['put', '/admin/queues/api/queues/intake/clean/failed'],
      ['put', '/admin/queues/api/queues/intake/empty'],
      ['put', '/admin/queues/api/queues/intake/obliterate'],
      ['put', '/admin/queues/api/queues/intake/pause'],
      ['put', '/admin/queues/api/queues/pause'],
      ['post', '/admin/queues/api/queues/intake/add', { name: 'referral', data: {} }],
    ];
    for (const [method, path, body] of writes) {
      const res = await request(gw.app)[method](path).set('Authorization', `Bearer ${ADMIN}`).send(body ?? {});
      expect([path, res.status]).toEqual([path, 405]);
    }
    const after = await gw.queue.getJob(id);
    expect(after?.data).toEqual(before);
    expect(await after!.getState()).toBe('failed');
    expect(await gw.queue.isPaused()).toBe(false);
    expect(await gw.queue.getJobCounts('waiting', 'delayed')).toEqual({ waiting: 0, delayed: 0 });
  });

  it('ends every session when the admin token is rotated: a cookie from before opens nothing', async () => {
    const cookie = cookieOf(await login());
    expect((await request(gw.app).get('/admin/queues/api/queues').set('Cookie', cookie)).status).toBe(200);
    // The same Redis, restarted with a new ADMIN_TOKEN.
    const rotated = createApp({ config: { ...gw.config, ADMIN_TOKEN: 'rotated-admin-token-0123456789abcdef' }, logger: createLogger('silent'), redis: gw.redis, services: gw.services, intents: [] });
    expect((await request(rotated).get('/admin/queues/api/queues').set('Cookie', cookie)).status).toBe(401);
    // Rotating back does not revive it: the stale session was deleted on sight.
    expect((await request(gw.app).get('/admin/queues/api/queues').set('Cookie', cookie)).status).toBe(401);
  });

  it('ends every dashboard session from the CLI (npm run admin -- sessions end-all), audited', async () => {
    const cookies = [cookieOf(await login()), cookieOf(await login())];
    const { stdout } = await promisify(execFile)(process.execPath, [require.resolve('tsx/cli'), 'src/cli/admin.ts', 'sessions', 'end-all', '--actor', 'ops'], {
      cwd: path.join(__dirname, '..', '..'),
      env: { PATH: process.env.PATH, NODE_ENV: 'test', REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: gw.config.QUEUE_PREFIX },
    });
    expect(JSON.parse(stdout).ended).toBeGreaterThanOrEqual(2);
    for (const cookie of cookies) expect((await request(gw.app).get('/admin/queues/api/queues').set('Cookie', cookie)).status).toBe(401);
    expect((await gw.services.audit.recent(5)).map((e) => [e.actor, e.action])).toContainEqual(['ops', 'admin.sessions_ended']);
  }, 30_000);

  it('answers 429 to wrong tokens from an address after 10 failures, and still lets the right token in (nobody sharing the address is locked out)', async () => {
    const from = (ip: string, token: string) => request(gw.app).post('/admin/queues/login').set('X-Forwarded-For', ip).type('form').send({ token });
    for (let i = 0; i < 10; i++) expect((await from('203.0.113.7', `wrong-token-${i}`)).status).toBe(401);
    const refused = await from('203.0.113.7', 'wrong-token-again');
    expect(refused.status).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect((await from('203.0.113.7', ADMIN)).status).toBe(303);
    expect((await from('203.0.113.8', ADMIN)).status).toBe(303);
    // One key per address that failed (this one, and loopback's single wrong login in the first test), each
    // with an expiry: memory stays bounded. An address that only succeeded leaves none.
    const keys = await gw.redis.keys(`${gw.config.QUEUE_PREFIX}*admin-login-failures*`);
    expect(keys).toHaveLength(2);
    for (const key of keys) expect(await gw.redis.ttl(key)).toBeGreaterThan(0);
  });

  const bearer = (ip: string, path: string, token: string) => request(gw.app).get(path).set('X-Forwarded-For', ip).set('Authorization', `Bearer ${token}`);

  it('counts each of many parallel wrong logins before comparing, so those past the limit get 429', async () => {
    const address = '198.51.100.23';
    const login = (token: string) => request(gw.app).post('/admin/queues/login').set('X-Forwarded-For', address).type('form').send({ token });
    const statuses = await Promise.all(Array.from({ length: 15 }, (_, i) => login(`wrong-token-${i}`).then((r) => r.status)));
    expect(statuses.filter((s) => s === 401)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(5);
    // The same address is refused everywhere for a wrong token; the right token still passes.
    expect((await bearer(address, '/admin/dead-letters', 'wrong-token-x')).status).toBe(429);
    expect((await bearer(address, '/admin/queues/api/queues', 'wrong-token-y')).status).toBe(429);
    expect((await bearer(address, '/admin/dead-letters', ADMIN)).status).toBe(200);
  });

  it('counts Bearer guesses on /admin and on the dashboard alike; a success lifts no block on wrong tokens', async () => {
    const guesser = '198.51.100.24';
    for (let i = 0; i < 5; i++) expect((await bearer(guesser, '/admin/dead-letters', `wrong-token-${i}`)).status).toBe(401);
    expect((await bearer(guesser, '/admin/dead-letters', ADMIN)).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await bearer(guesser, '/admin/queues/api/queues', `wrong-token-${i}`)).status).toBe(401);
    expect((await bearer(guesser, '/admin/dead-letters', 'wrong-token-x')).status).toBe(429);
    expect((await bearer(guesser, '/admin/dead-letters', ADMIN)).status).toBe(200);
    expect((await bearer(guesser, '/admin/dead-letters', 'wrong-token-z')).status).toBe(429);
  });

  it('keeps no key name or value holding a failing address or its unkeyed sha256', async () => {
    const address = '198.51.100.25';
    for (let i = 0; i < 3; i++) expect((await request(gw.app).post('/admin/queues/login').set('X-Forwarded-For', address).type('form').send({ token: `wrong-${i}` })).status).toBe(401);
    const digest = createHash('sha256').update(address).digest('hex');
    const keys = await gw.redis.keys(`${gw.config.QUEUE_PREFIX}:*`);
    const strings = (await Promise.all(keys.map(async (k) => ((await gw.redis.type(k)) === 'string' ? ((await gw.redis.get(k)) ?? '') : '')))).join('\n');
    for (const trace of [address, digest, digest.slice(0, 32)]) {
      expect(keys.filter((k) => k.includes(trace))).toEqual([]);
      expect(strings).not.toContain(trace);
    }
    expect(keys.filter((k) => k.includes(':admin-login-failures:'))).not.toEqual([]);
  });
});
