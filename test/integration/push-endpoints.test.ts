import { randomUUID } from 'node:crypto';
import express from 'express';
import request from 'supertest';
import webpush from 'web-push';
import { WebPushClient } from '../../src/clients/webpush';
import { pushEndpointPolicy } from '../../src/security/push-endpoint';
import { errorHandler } from '../../src/http/errors';
import { pushRouter } from '../../src/http/push';
import { createLogger } from '../../src/logger';
import { QUEUES } from '../../src/queues/names';
import { FakePushService } from '../../demo/sandbox/push-service';
import { HttpRecorder } from '../support/http-recorder';
import { startGateway, uniquePrefix, type Gateway, webPushEnv } from '../support/gateway';
import { eventually } from '../support/eventually';

const ADMIN = 'admin-token-ssrf-1';

/** SSRF through push subscriptions: the gateway must not be a way to POST into its own network. */
describe('push endpoint policy', () => {
  const vapid = webpush.generateVAPIDKeys();
  let gw: Gateway;
  let internal: HttpRecorder;
  let push: FakePushService;

  const keysOf = (device: string) => push.subscribe(device).keys;
  const enrollmentToken = async (user: string) =>
    (await request(gw.app).post('/admin/enrollments').set('Authorization', `Bearer ${ADMIN}`).send({ user_name: user })).body.token as string;

  beforeAll(async () => {
    internal = await HttpRecorder.start({ status: 201, body: '' });
    push = await FakePushService.start(vapid.publicKey);
    gw = await startGateway({
      prefix: uniquePrefix('ssrf'),
      env: {
        ADMIN_TOKEN: ADMIN,
        ...webPushEnv(vapid, new URL(push.origin).host),
      },
    });
  });

  afterAll(async () => {
    await gw.close();
    await internal.stop();
    await push.stop();
  });

  it.each([
    ['a local listener', () => `${internal.url}/push/x`],
    ['the same listener over https', () => `${internal.url.replace('http:', 'https:')}/push/x`],
    ['the cloud metadata address', () => 'https://169.254.169.254/latest/meta-data'],
    ['an IPv4-mapped loopback', () => `https://[::ffff:127.0.0.1]:${new URL(internal.url).port}/x`],
    ['IPv6 loopback', () => 'https://[::1]/x'],
    ['a private address', () => 'https://10.0.0.8/x'],
    ['a known service over http', () => 'http://fcm.googleapis.com/fcm/send/abc'],
    ['a known service on another port', () => 'https://fcm.googleapis.com:8443/fcm/send/abc'],
    ['a look-alike host', () => 'https://fcm.googleapis.com.evil.example/fcm/send/abc'],
    ['a named host on another port', () => `http://127.0.0.1:${new URL(internal.url).port}/x`],
  ])('refuses to subscribe %s, and the enrollment link still works', async (_what, endpoint) => {
    const token = await enrollmentToken('cp_worker');
    const res = await request(gw.app).post('/push/subscriptions').send({ enrollment_token: token, subscription: { endpoint: endpoint(), keys: keysOf('d') } });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('endpoint_refused');
    expect(JSON.stringify(res.body)).not.toContain(new URL(endpoint()).hostname);
    const ok = await request(gw.app).post('/push/subscriptions').send({ enrollment_token: token, subscription: push.subscribe(`ok-${randomUUID()}`) });
    expect(ok.status).toBe(201);
    expect(internal.requests).toEqual([]);
  });

  it('at send time refuses a stored endpoint on a local listener: no request arrives and the job is dead-lettered', async () => {
    // As a subscription stored before the policy existed would be.
    await gw.services.notifications.subscriptions.add('legacy_user', { endpoint: `${internal.url}/push/legacy`, keys: keysOf('legacy') }, 'eng');
    const queue = gw.services.registry.get(QUEUES.push);
    const sent = await gw.services.notifications.push!.notify('legacy_user', { event: 'assigned', recordType: 'case', recordId: randomUUID(), caseIdDisplay: 'cp-1', urgent: false }, randomUUID(), null);
    expect(sent).toBe(1);
    const failed = await eventually(async () => (await queue.getFailed()).find((j) => j.data.user === 'legacy_user'));
    expect(failed.failedReason).toMatch(/refused/);
    expect(await queue.getJobCounts('waiting', 'active', 'delayed')).toEqual({ waiting: 0, active: 0, delayed: 0 });
    expect(internal.requests).toEqual([]);
    const said = gw.logs.lines.filter((l) => l.includes('push endpoint refused by policy'));
    expect(said.map((l) => JSON.parse(l) as Record<string, unknown>)).toEqual([expect.objectContaining({ device: failed.data.endpointHash })]);
    expect(said.join('')).not.toContain('legacy_user');
  });

  it('checks the address in the socket lookup, so a name that re-resolves to loopback after the check reaches nothing', async () => {
    const real = pushEndpointPolicy([]);
    // The check passed (as with a public answer a moment ago); the connection's own lookup now says 127.0.0.1.
    const rebinding = { check: async () => ({ ok: true as const, named: false }), guardedLookup: real.guardedLookup };
    const client = new WebPushClient({ subject: 'mailto:ops@example.org', publicKey: vapid.publicKey, privateKey: vapid.privateKey }, 2000, rebinding);
    const result = await client.send({ endpoint: `https://localhost:${new URL(internal.url).port}/push/rebound`, keys: keysOf('rebound') }, '{}', { ttlSeconds: 60, urgency: 'normal', topic: 't' });
    expect(result.refused).toMatch(/internal/);
    expect(internal.requests).toEqual([]);
  });

  it('a DNS hiccup at send time is retried, not dead-lettered as refused', async () => {
    const hiccup = pushEndpointPolicy([], (async () => {
      throw Object.assign(new Error('getaddrinfo EAI_AGAIN fcm.googleapis.com'), { code: 'EAI_AGAIN' });
    }) as never);
    const client = new WebPushClient({ subject: 'mailto:ops@example.org', publicKey: vapid.publicKey, privateKey: vapid.privateKey }, 2000, hiccup);
    const result = await client.send({ endpoint: 'https://fcm.googleapis.com/fcm/send/abc', keys: keysOf('hiccup') }, '{}', { ttlSeconds: 60, urgency: 'normal', topic: 't' });
    // No answer and no refusal: the push worker treats it as transient and retries with backoff.
    expect(result).toEqual({ status: null, retryAfterMs: null });
  });

  it('a DNS hiccup while subscribing asks the browser to try again and keeps the enrollment link', async () => {
    const hiccup = pushEndpointPolicy([], (async () => {
      throw Object.assign(new Error('getaddrinfo EAI_AGAIN'), { code: 'EAI_AGAIN' });
    }) as never);
    const subscriptions = gw.services.notifications.subscriptions;
    const logger = createLogger('silent');
    const app = express().use(pushRouter({ vapidPublicKey: vapid.publicKey, subscriptions, texts: gw.services.notifications.texts, endpoints: hiccup, audit: gw.services.audit, logger: logger })).use(errorHandler(logger));
    const token = await enrollmentToken('cp_worker');
    const res = await request(app).post('/push/subscriptions').send({ enrollment_token: token, subscription: { endpoint: 'https://fcm.googleapis.com/fcm/send/abc', keys: keysOf('d') } });
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('endpoint_unresolved');
    const ok = await request(gw.app).post('/push/subscriptions').send({ enrollment_token: token, subscription: push.subscribe(`ok-${randomUUID()}`) });
    expect(ok.status).toBe(201);
  });

  it('looks no push service up for a caller without a live enrollment link', async () => {
    const looked: string[] = [];
    const counting = pushEndpointPolicy([], (async (host: string) => {
      looked.push(host);
      return [{ address: '142.250.1.1', family: 4 }];
    }) as never);
    const logger = createLogger('silent');
    const app = express()
      .use(pushRouter({ vapidPublicKey: vapid.publicKey, subscriptions: gw.services.notifications.subscriptions, texts: gw.services.notifications.texts, endpoints: counting, audit: gw.services.audit, logger }))
      .use(errorHandler(logger));
    const endpoint = 'https://fcm.googleapis.com/fcm/send/abc';
    const forged = await request(app).post('/push/subscriptions').send({ enrollment_token: 'not-a-real-token-1234', subscription: { endpoint, keys: keysOf('d') } });
    expect(forged.status).toBe(403);
    expect(forged.body.error.code).toBe('enrollment_invalid');
    const token = await enrollmentToken('cp_worker');
    expect((await request(app).post('/push/subscriptions').send({ enrollment_token: token, subscription: { endpoint, keys: keysOf('d') } })).status).toBe(201);
    const spent = await request(app).post('/push/subscriptions').send({ enrollment_token: token, subscription: { endpoint, keys: keysOf('e') } });
    expect(spent.status).toBe(403);
    // Only the request with a live link made the gateway resolve the host.
    expect(looked).toEqual(['fcm.googleapis.com']);
  });

  it('sends push requests directly even with HTTP(S)_PROXY set, so the proxy cannot bypass the address check', async () => {
    const proxy = await HttpRecorder.start({ status: 201, body: '' });
    const saved = { HTTP_PROXY: process.env.HTTP_PROXY, HTTPS_PROXY: process.env.HTTPS_PROXY, NO_PROXY: process.env.NO_PROXY, no_proxy: process.env.no_proxy };
    Object.assign(process.env, { HTTP_PROXY: proxy.url, HTTPS_PROXY: proxy.url, NO_PROXY: '', no_proxy: '' });
    try {
      const client = new WebPushClient({ subject: 'mailto:ops@example.org', publicKey: vapid.publicKey, privateKey: vapid.privateKey }, 2000, pushEndpointPolicy([new URL(internal.url).host]));
      const result = await client.send({ endpoint: `${internal.url}/push/direct`, keys: keysOf('direct') }, '{}', { ttlSeconds: 60, urgency: 'normal', topic: 't' });
      expect(result.status).toBe(201);
      expect(proxy.requests).toEqual([]);
      expect(internal.requests.map((r) => r.url)).toEqual(['/push/direct']);
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      internal.requests.length = 0;
      await proxy.stop();
    }
  });

  it('accepts a known push service only when it resolves to public addresses', async () => {
    const publicDns = pushEndpointPolicy([], (async () => [{ address: '142.250.180.10', family: 4 }]) as never);
    const privateDns = pushEndpointPolicy([], (async () => [{ address: '142.250.180.10', family: 4 }, { address: '::ffff:10.0.0.1', family: 6 }]) as never);
    const endpoint = 'https://fcm.googleapis.com/fcm/send/abc';
    expect(await publicDns.check(endpoint)).toEqual({ ok: true, named: false });
    expect(await publicDns.check('https://wns2-par02p.notify.windows.com/w/?token=x')).toEqual({ ok: true, named: false });
    expect(await privateDns.check(endpoint)).toEqual({ ok: false, reason: 'resolves to an internal address' });
  });
});
