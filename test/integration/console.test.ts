import { createHmac, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import nock from 'nock';
import request from 'supertest';
import webpush from 'web-push';
import { createApp } from '../../src/app';
import type { Overview } from '../../src/admin/overview-types';
import { loadConsoleTexts } from '../../src/console/texts';
import { AdminSessionStore } from '../../src/store/admin-sessions';
import { createLogger } from '../../src/logger';
import { LogCapture, startGateway, uniquePrefix, WEBHOOK_TOKEN, webPushEnv, type Gateway } from '../support/gateway';
import { eventually } from '../support/eventually';
import { expectNoPersonalData } from '../support/personal-data';
import { PRIMERO, RecordingPrimero } from '../support/primero-fake';

const ADMIN = 'admin-token-console-1';
const PHONE = '+243810000456';
const WORDS = 'my uncle hits me when my mother is away';
const CASEWORKER = 'amina.caseworker';
const PAGE_LIMIT = 60 * 1024;

/** The operator console over the real app, workers and Redis: what an IT officer's browser sends and gets back. */
describe('the operator console', () => {
  let gw: Gateway;
  let primero: RecordingPrimero;
  /** Every console page fetched, except the reveal's answer: none may hold the person's data. */
  const pages: string[] = [];
  const vapid = webpush.generateVAPIDKeys();

  const cookieOf = (res: request.Response) => String(res.headers['set-cookie']?.[0] ?? '').split(';')[0]!;
  const csrfOf = (text: string) => /name="_csrf" value="([^"]+)"/.exec(text)?.[1] ?? '';
  const login = async (operator = 'it.officer') => cookieOf(await request(gw.app).post('/admin/console/login').type('form').send({ token: ADMIN, operator }));
  const page = async (cookie: string, url: string, status = 200) => {
    const res = await request(gw.app).get(url).set('Cookie', cookie);
    expect([url, res.status]).toEqual([url, status]);
    pages.push(res.text);
    return res;
  };
  /** A form a console page holds, posted back as the browser would (same origin, its token). */
  const submit = async (cookie: string, url: string, fields: Record<string, string>, csrfFrom: string) => {
    const res = await request(gw.app).post(url).set('Cookie', cookie).set('Origin', 'http://127.0.0.1').set('Host', '127.0.0.1').type('form').send({ ...fields, _csrf: csrfOf(csrfFrom) });
    return res;
  };
  const post = () =>
    request(gw.app)
      .post('/webhooks/rapidpro/referral')
      .set('Authorization', `Token ${WEBHOOK_TOKEN}`)
      .type('json')
      .send({ contact: { uuid: randomUUID(), urn: `tel:${PHONE}` }, flow: { uuid: randomUUID() }, run: { uuid: randomUUID() }, results: { concern: { value: WORDS, category: 'All Responses' }, age: { value: '15', category: 'Valid' } } });
  async function deadLetter(): Promise<{ reference: string; id: string }> {
    primero.refuseCreates = 1;
    const reference = (await post()).body.reference as string;
    await eventually(async () => (await gw.queue.getJobState(`m-${reference}`)) === 'failed');
    return { reference, id: `intake.m-${reference}` };
  }
  const audit = async () => gw.services.audit.recent(20);

  beforeAll(async () => {
    nock.disableNetConnect();
    nock.enableNetConnect(/127\.0\.0\.1|localhost/);
    primero = new RecordingPrimero(PRIMERO);
    gw = await startGateway({ prefix: uniquePrefix('console'), env: { ADMIN_TOKEN: ADMIN, ...webPushEnv(vapid), PUBLIC_URL: 'https://gateway.example.org' } });
  });
  afterAll(async () => {
    await gw.close();
    nock.cleanAll();
    nock.enableNetConnect();
    expectNoPersonalData(gw.logs.text, [WORDS, PHONE.slice(1), ADMIN]);
  });

  it('sends a browser without a session to the log-in, refuses a wrong token, and keeps only a session id in the cookie', async () => {
    const away = await request(gw.app).get('/admin/console/dead-letters');
    expect(away.status).toBe(303);
    expect(away.headers.location).toBe('/admin/console/login');
    const form = await request(gw.app).get('/admin/console/login');
    expect(form.text).toContain('name="token"');
    expect((await request(gw.app).post('/admin/console/login').type('form').send({ token: 'wrong-token-123' })).status).toBe(401);
    const res = await request(gw.app).post('/admin/console/login').type('form').send({ token: ADMIN, operator: 'it.officer' });
    expect(res.status).toBe(303);
    const setCookie = String(res.headers['set-cookie']![0]);
    for (const flag of [/HttpOnly/, /SameSite=Strict/, /Path=\/admin\/console/]) expect(setCookie).toMatch(flag);
    expect(setCookie).not.toContain(ADMIN);
    const overview = await page(cookieOf(res), '/admin/console');
    expect(overview.text).toContain('data-field="messagesReceived"');
    expect(overview.headers['cache-control']).toBe('no-store');
    expect(overview.headers['content-security-policy']).toContain("script-src 'self'");
  });

  it('lets a Bearer caller in as the JSON routes do, and log-out ends the session for good', async () => {
    expect((await request(gw.app).get('/admin/console/dead-letters').set('Authorization', `Bearer ${ADMIN}`)).status).toBe(200);
    expect((await request(gw.app).get('/admin/console/dead-letters').set('Authorization', 'Bearer wrong-token-123')).status).toBe(401);
    const cookie = await login();
    const before = await page(cookie, '/admin/console/overview');
    expect((await submit(cookie, '/admin/console/logout', {}, before.text)).status).toBe(303);
    expect((await request(gw.app).get('/admin/console/overview').set('Cookie', cookie)).status).toBe(303);
  });

  it('refuses a form without its token, with a wrong one, or from another site, and changes nothing', async () => {
    const { id, reference } = await deadLetter();
    const cookie = await login();
    const list = await page(cookie, '/admin/console/dead-letters');
    const url = `/admin/console/dead-letters/${id}/replay`;
    const attempts = [
      request(gw.app).post(url).set('Cookie', cookie).type('form').send({ other: 'x' }),
      request(gw.app).post(url).set('Cookie', cookie).type('form').send({ _csrf: 'A'.repeat(43) }),
      request(gw.app).post(url).set('Cookie', cookie).set('Origin', 'https://evil.example').type('form').send({ _csrf: csrfOf(list.text) }),
      request(gw.app).post(url).set('Cookie', cookie).set('Sec-Fetch-Site', 'cross-site').type('form').send({ _csrf: csrfOf(list.text) }),
      // Another session's token opens nothing in this one.
      request(gw.app).post(url).set('Cookie', await login()).type('form').send({ _csrf: csrfOf(list.text) }),
    ];
    for (const attempt of attempts) expect((await attempt).status).toBe(403);
    expect(await gw.queue.getJobState(`m-${reference}`)).toBe('failed');
    expect((await audit()).some((e) => e.target === id)).toBe(false);
  });

  it('shows a dead letter masked, reveals it only for a reason (audited, never cached), and discards it only for a reason', async () => {
    const { id, reference } = await deadLetter();
    const cookie = await login();
    const list = await page(cookie, '/admin/console/dead-letters?queue=intake&error=422');
    expect(list.text).toContain(reference);
    const shown = await page(cookie, `/admin/console/dead-letters/${id}`);
    expect(shown.text).toContain('[masked');
    expect(shown.text).toContain('No names, numbers or case details.');

    const noReason = await submit(cookie, `/admin/console/dead-letters/${id}/reveal`, { reason: '  ' }, shown.text);
    expect(noReason.status).toBe(422);
    pages.push(noReason.text);
    expect((await audit()).some((e) => e.action === 'dead_letter.reveal' && e.target === id)).toBe(false);

    const revealed = await submit(cookie, `/admin/console/dead-letters/${id}/reveal`, { reason: 'caller asks what she sent' }, shown.text);
    expect(revealed.status).toBe(200);
    expect(revealed.text).toContain(PHONE);
    expect(revealed.headers['cache-control']).toBe('no-store');
    expect((await audit())[0]).toMatchObject({ actor: 'it.officer', action: 'dead_letter.reveal', target: id, detail: { reason: 'caller asks what she sent' } });

    expect((await submit(cookie, `/admin/console/dead-letters/${id}/discard`, { reason: '' }, shown.text)).status).toBe(422);
    expect(await gw.queue.getJobState(`m-${reference}`)).toBe('failed');
    const discarded = await submit(cookie, `/admin/console/dead-letters/${id}/discard`, { reason: 'test report from the field office' }, shown.text);
    expect(discarded.status).toBe(303);
    expect(await gw.queue.getJob(`m-${reference}`)).toBeUndefined();
    expect((await audit())[0]).toMatchObject({ actor: 'it.officer', action: 'dead_letter.discard', target: id, detail: { reason: 'test report from the field office' } });
  });

  it('replays one dead letter, then a filtered set after showing the dry-run count, and the trace shows the cases', async () => {
    const one = await deadLetter();
    const cookie = await login('ops');
    const list = await page(cookie, '/admin/console/dead-letters');
    expect((await submit(cookie, `/admin/console/dead-letters/${one.id}/replay`, {}, list.text)).headers.location).toBe('/admin/console/dead-letters?done=replayed');
    await eventually(() => gw.references.get(one.reference));
    const trace = await page(cookie, `/admin/console/trace?reference=${one.reference.toLowerCase()}`);
    // The display id is read only where an alert shows it: until then the trace names the case by its id.
    expect(trace.text).toContain(String(primero.created.at(-1)!.id));
    expect(trace.text).toContain('replayed');

    const [a, b] = [await deadLetter(), await deadLetter()];
    // The earlier tests' dead letters (the forms refused above) match too.
    const failed = await gw.queue.getFailedCount();
    expect(failed).toBeGreaterThanOrEqual(2);
    const dry = await page(cookie, '/admin/console/dead-letters/replay?queue=intake&error=422');
    expect(dry.text).toContain(`data-count="${failed}"`);
    expect(await gw.queue.getJobState(`m-${a.reference}`)).toBe('failed');
    // Between the count and the confirmation: one counted is replayed from its own page, a new one fails.
    expect((await submit(cookie, `/admin/console/dead-letters/intake.m-${a.reference}/replay`, {}, list.text)).status).toBe(303);
    await eventually(() => gw.references.get(a.reference));
    const late = await deadLetter();
    const done = await submit(cookie, '/admin/console/dead-letters/replay', { batch: /name="batch" value="([^"]+)"/.exec(dry.text)![1]! }, dry.text);
    expect(done.status).toBe(200);
    pages.push(done.text);
    expect(done.text).toContain(`Replayed ${failed - 1} of the ${failed} counted; 1 were no longer dead letters.`);
    await eventually(async () => (await gw.references.get(a.reference)) && gw.references.get(b.reference));
    expect(await gw.queue.getJobState(`m-${late.reference}`)).toBe('failed');
    expect((await audit()).map((e) => [e.actor, e.action])).toContainEqual(['ops', 'dead_letter.replay_matching']);
    // The same confirmation sent again replays nothing: the count it confirmed is used up.
    const again = await submit(cookie, '/admin/console/dead-letters/replay', { batch: /name="batch" value="([^"]+)"/.exec(dry.text)![1]! }, dry.text);
    expect([again.status, again.text]).toEqual([409, expect.stringContaining('run the dry run again')]);
    expect(await gw.queue.getFailedCount()).toBe(1);
    // A double click on a new confirmation: one walk, one audit entry; the other click is told, not run again.
    await deadLetter();
    const twice = await page(cookie, '/admin/console/dead-letters/replay?queue=intake&error=422');
    const batch = /name="batch" value="([^"]+)"/.exec(twice.text)![1]!;
    const before = (await gw.services.audit.recent(100)).filter((e) => e.action === 'dead_letter.replay_matching').length;
    const clicks = await Promise.all([1, 2].map(() => submit(cookie, '/admin/console/dead-letters/replay', { batch }, twice.text)));
    expect(clicks.map((c) => c.status).sort()).toEqual([200, 409]);
    expect((await gw.services.audit.recent(100)).filter((e) => e.action === 'dead_letter.replay_matching')).toHaveLength(before + 1);
    // A link cannot make the list announce figures.
    expect((await page(cookie, '/admin/console/dead-letters?done=replayed_count&count=9999')).text).not.toContain('9999');
  });

  it('keeps an operator name with @ for the audit trail, with nothing but a random id in the cookie', async () => {
    const res = await request(gw.app).post('/admin/console/login').type('form').send({ token: ADMIN, operator: 'amina@ngo.org' });
    const cookie = cookieOf(res);
    expect(cookie).toMatch(/^pmg_console_session=[A-Za-z0-9_-]{43}$/);
    const list = await page(cookie, '/admin/console/dead-letters');
    const { id, reference } = await deadLetter();
    expect((await submit(cookie, `/admin/console/dead-letters/${id}/replay`, {}, list.text)).status).toBe(303);
    await eventually(() => gw.references.get(reference));
    expect((await audit()).find((e) => e.target === id)).toMatchObject({ actor: 'amina@ngo.org', action: 'dead_letter.replay', target: id });
    // Neither the cookie nor the form token is keyed with the admin token: seen in a HAR file, neither tests a guess of it.
    const sessionId = cookie.split('=')[1]!;
    for (const purpose of ['csrf', 'operator']) expect(csrfOf(list.text)).not.toBe(createHmac('sha256', ADMIN).update(`console-${purpose}:${sessionId}`).digest('base64url'));
    expect(csrfOf(list.text)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // `sessions end-all` (the store's endAll) logs the console out as well as the queue dashboard.
    expect(await new AdminSessionStore(gw.redis, gw.config.QUEUE_PREFIX).endAll()).toBeGreaterThan(0);
    expect((await request(gw.app).get('/admin/console/overview').set('Cookie', cookie)).status).toBe(303);
  });

  it('refuses a form from another origin however the browser says so, the log-in included, and a Bearer caller from a page of another site', async () => {
    const cookie = await login();
    const list = await page(cookie, '/admin/console/dead-letters');
    const { id, reference } = await deadLetter();
    const url = `/admin/console/dead-letters/${id}/replay`;
    const form = { _csrf: csrfOf(list.text) };
    const behindProxy = createApp({ config: { ...gw.config, TRUST_PROXY: 'loopback' }, logger: createLogger('silent'), redis: gw.redis, services: gw.services, intents: [] });
    const attempts = [
      request(gw.app).post(url).set('Cookie', cookie).set('Origin', 'null').type('form').send(form),
      request(gw.app).post(url).set('Cookie', cookie).set('Sec-Fetch-Site', 'same-site').type('form').send(form),
      // Same host, but the request came in over HTTPS (the trusted proxy says so): an http: page is another origin.
      request(behindProxy).post(url).set('Cookie', cookie).set('Host', 'gateway.example.org').set('X-Forwarded-Proto', 'https').set('Origin', 'http://gateway.example.org').type('form').send(form),
      request(gw.app).post(url).set('Authorization', `Bearer ${ADMIN}`).set('Origin', 'https://evil.example').type('form').send({}),
    ];
    for (const attempt of attempts) expect((await attempt).status).toBe(403);
    const crossLogin = await request(gw.app).post('/admin/console/login').set('Origin', 'https://evil.example').type('form').send({ token: ADMIN, operator: 'x' });
    expect([crossLogin.status, crossLogin.headers['set-cookie']]).toEqual([403, undefined]);
    expect(await gw.queue.getJobState(`m-${reference}`)).toBe('failed');
    // Behind a proxy that sends its own Host (nginx's default $proxy_host), PUBLIC_URL is the console's origin.
    const proxied = await request(gw.app).post(url).set('Cookie', cookie).set('Host', 'gateway-upstream:3000').set('Origin', 'https://gateway.example.org').type('form').send(form);
    expect(proxied.status).toBe(303);
    await eventually(() => gw.references.get(reference));
    // curl with the token sends neither Origin nor Sec-Fetch-Site: a script keeps working.
    const again = await deadLetter();
    expect((await request(gw.app).post(`/admin/console/dead-letters/${again.id}/replay`).set('Authorization', `Bearer ${ADMIN}`).type('form').send({})).status).toBe(303);
    await eventually(() => gw.references.get(again.reference));
  });

  it('marks its cookies Secure unless the browser is on this machine, and log-out clears what the browser kept', async () => {
    const logs = new LogCapture();
    const behindProxy = createApp({ config: { ...gw.config, TRUST_PROXY: 'loopback' }, logger: createLogger('info', logs), redis: gw.redis, services: gw.services, intents: [] });
    const viaTls = await request(behindProxy).post('/admin/console/login?lang=fr').set('Host', 'gateway.example.org').set('X-Forwarded-Proto', 'https').type('form').send({ token: ADMIN, operator: 'ops' });
    // TLS ended at a proxy nobody named in TRUST_PROXY: the request looks like plain HTTP, the cookies keep the flag.
    const unnamedProxy = await request(gw.app).post('/admin/console/login?lang=fr').set('Host', 'gateway.example.org').type('form').send({ token: ADMIN, operator: 'ops' });
    for (const res of [viaTls, unnamedProxy]) {
      const cookies = res.headers['set-cookie'] as unknown as string[];
      expect(cookies.map((c) => c.split('=')[0])).toEqual(['pmg_console_lang', 'pmg_console_session']);
      for (const c of cookies) expect(c).toMatch(/; Secure/);
    }
    const local = await request(gw.app).post('/admin/console/login').set('Host', '127.0.0.1:3000').type('form').send({ token: ADMIN, operator: 'ops' });
    expect(String(local.headers['set-cookie']![0])).not.toMatch(/Secure/);
    // Mounted on every interface (PORT) with no TRUST_PROXY, the start says what to set; named, it says nothing.
    expect(gw.logs.text).toContain('TRUST_PROXY is not set');
    expect(logs.text).not.toContain('TRUST_PROXY is not set');
    const cookie = cookieOf(local);
    const out = await submit(cookie, '/admin/console/logout', {}, (await page(cookie, '/admin/console')).text);
    expect([out.status, out.headers['clear-site-data']]).toEqual([303, '"cache"']);
    for (const u of ['/admin/console/console.css', '/admin/console/overview.js']) expect((await request(gw.app).get(u)).headers['x-content-type-options']).toBe('nosniff');
    expect((await request(gw.app).get('/admin/console/overview.json').set('Cookie', await login())).headers['x-content-type-options']).toBe('nosniff');
  });

  it('leaves /admin/consolefoo to the admin routes (behind the token), not to the console', async () => {
    expect((await request(gw.app).get('/admin/consolefoo')).status).toBe(401);
  });

  it('refuses a filter field given twice instead of dropping it (the replay would cover every queue)', async () => {
    const cookie = await login();
    for (const url of ['/admin/console/dead-letters?queue=intake&queue=notify', '/admin/console/dead-letters/replay?error=422&error=500']) {
      const res = await page(cookie, url, 422);
      expect(res.text).toMatch(/Give (queue|error) once/);
      expect(res.text).not.toContain('name="batch"');
    }
  });

  it('answers a bad filter, an unknown id or reference with a page naming the problem, not a stack trace', async () => {
    const cookie = await login();
    for (const [url, status] of [
      ['/admin/console/dead-letters?min_age_hours=soon', 422],
      ['/admin/console/dead-letters/intake.m-AAAA2222', 404],
      ['/admin/console/trace?reference=not-a-ref', 422],
      ['/admin/console/trace?reference=AAAA2222', 404],
      ['/admin/console/no-such-page', 404],
    ] as const) {
      const res = await page(cookie, url, status);
      expect(res.type).toBe('text/html');
      expect(res.text).toContain('role="alert"');
      expect(res.text).not.toMatch(/\bat \S+ \(|Error:/);
    }
    expect((await page(cookie, '/admin/console/trace?reference=not-a-ref', 422)).text).not.toContain('not-a-ref');
  });

  it('lists a caseworker’s devices, revokes one, and issues an enrollment link as a QR code', async () => {
    await gw.services.notifications.subscriptions.add(CASEWORKER, { endpoint: 'https://fcm.googleapis.com/fcm/send/lost-phone', keys: { p256dh: 'BNc', auth: 'xyz' } }, 'eng');
    const cookie = await login();
    const form = await page(cookie, '/admin/console/devices');
    const listed = await submit(cookie, '/admin/console/devices/list', { user_name: CASEWORKER }, form.text);
    expect(listed.status).toBe(200);
    expect(listed.text).not.toContain('lost-phone');
    const deviceId = /class="card device" data-id="([^"]+)"/.exec(listed.text)![1]!;
    expect((await submit(cookie, `/admin/console/devices/${deviceId}/revoke`, {}, listed.text)).headers.location).toBe('/admin/console/devices?done=revoked');
    expect(await gw.services.notifications.subscriptions.devices(CASEWORKER)).toEqual([]);
    expect((await audit())[0]).toMatchObject({ actor: 'it.officer', action: 'push.device_revoked', target: deviceId });

    const issued = await submit(cookie, '/admin/console/devices/enroll', { user_name: CASEWORKER }, form.text);
    expect(issued.text).toMatch(/<div class="qr" id="enrollment-qr"><svg/);
    expect(issued.text).toMatch(/href="https:\/\/gateway\.example\.org\/push\?token=[A-Za-z0-9_-]+"/);
    expect(issued.headers['cache-control']).toBe('no-store');
    expect((await audit())[0]).toMatchObject({ action: 'push.enrollment_created', target: CASEWORKER });

    // Without PUBLIC_URL the link is relative: the page says so instead of drawing a QR code a phone cannot open.
    const noPublicUrl = createApp({ config: { ...gw.config, PUBLIC_URL: undefined }, logger: createLogger('silent'), redis: gw.redis, services: gw.services, intents: [] });
    const relative = await request(noPublicUrl).post('/admin/console/devices/enroll').set('Authorization', `Bearer ${ADMIN}`).type('form').send({ user_name: CASEWORKER });
    expect(relative.status).toBe(200);
    expect(relative.text).toContain('id="no-public-url"');
    expect(relative.text).not.toContain('<svg');

    const noPush = createApp({ config: { ...gw.config, VAPID_PUBLIC_KEY: undefined }, logger: createLogger('silent'), redis: gw.redis, services: gw.services, intents: [] });
    const off = await request(noPush).get('/admin/console/devices').set('Authorization', `Bearer ${ADMIN}`);
    expect(off.text).toContain('id="push-disabled"');
  });

  it('forgets a person without echoing who, and shows the audit trail', async () => {
    const { reference } = await deadLetter();
    const cookie = await login('dpo');
    const form = await page(cookie, '/admin/console/forget');
    const refused = await submit(cookie, '/admin/console/forget', { target: 'not a urn' }, form.text);
    expect(refused.status).toBe(422);
    pages.push(refused.text);
    const done = await submit(cookie, '/admin/console/forget', { target: `tel:${PHONE}` }, form.text);
    expect(done.status).toBe(200);
    pages.push(done.text);
    expect(done.text).toContain(reference);
    expect(await gw.queue.getJob(`m-${reference}`)).toBeUndefined();
    const trail = await page(cookie, '/admin/console/audit');
    expect(trail.text).toMatch(/<b>contact\.forget<\/b>[^<]*<span class="muted"><time[^]*?<br>dpo · /);
  });

  it('logs every browser out from the audit page (the CLI\'s sessions end-all), and records who did it', async () => {
    const other = await login('night.shift');
    const cookie = await login('ops.lead');
    const trail = await page(cookie, '/admin/console/audit');
    const refused = await request(gw.app).post('/admin/console/sessions/end-all').set('Cookie', cookie).set('Origin', 'http://127.0.0.1').set('Host', '127.0.0.1').type('form').send({ _csrf: 'forged' });
    expect(refused.status).toBe(403);
    await page(other, '/admin/console/overview');
    const ended = await submit(cookie, '/admin/console/sessions/end-all', {}, trail.text);
    expect([ended.status, ended.headers.location]).toEqual([303, '/admin/console/login']);
    for (const c of [cookie, other]) expect((await request(gw.app).get('/admin/console/overview').set('Cookie', c)).headers.location).toBe('/admin/console/login');
    expect((await audit())[0]).toMatchObject({ actor: 'ops.lead', action: 'admin.sessions_ended', detail: { count: expect.any(Number) } });
    expect(((await audit())[0]!.detail!.count as number) >= 2).toBe(true);
  });

  it('shows each destination’s state, a pause with its reason and the time left, from the overview service', async () => {
    const resumesAt = new Date(Date.now() + 9.5 * 60_000).toISOString();
    const overview: Overview = {
      generatedAt: new Date().toISOString(),
      messagesReceived: 1234,
      casesCreated: 1200,
      deadLetters: { count: 3, oldestFailedAt: '2026-01-02T03:04:05.000Z' },
      queues: [{ queue: 'intake', waiting: 7, active: 1, delayed: 2, failed: 3, oldestAgeSeconds: 300 }],
      destinations: [
        { destination: 'primero', state: 'paused', reason: 'Primero refused the API user (401): check PRIMERO_USER', resumesAt, cause: 'configuration', pauses: [{ queue: 'intake', cause: 'configuration', reason: 'Primero refused the API user (401): check PRIMERO_USER', resumesAt }] },
        { destination: 'rapidpro', state: 'retrying', reason: '5xx from RapidPro', resumesAt: null, cause: null, pauses: [] },
        { destination: 'push', state: 'healthy', reason: null, resumesAt: null, cause: null, pauses: [] },
      ],
    };
    const app = createApp({ config: gw.config, logger: createLogger('silent'), redis: gw.redis, services: { ...gw.services, overview: { read: async () => overview } }, intents: [] });
    const res = await request(app).get('/admin/console').set('Authorization', `Bearer ${ADMIN}`);
    expect(res.text).toMatch(/data-field="messagesReceived">1234</);
    expect(res.text).toMatch(/<b>primero<\/b>: <span class="state-paused" data-field="destination.primero">paused<\/span> · resumes in 10 min<br><span class="muted">Primero refused the API user \(401\): check PRIMERO_USER</);
    expect(res.text).toContain('data-field="destination.rapidpro">retrying</span>');
    expect(res.text).toContain('data-field="queue.intake.waiting">7<');
    expect((await request(app).get('/admin/console/overview.json').set('Authorization', `Bearer ${ADMIN}`)).body).toEqual(overview);
    expect((await request(app).get('/admin/console?lang=fr').set('Authorization', `Bearer ${ADMIN}`)).text).toContain('en pause</span> · reprise dans 10 min');
  });

  it('speaks French when asked, by ?lang= or Accept-Language, and refuses a texts file that lacks a text, naming it', async () => {
    const cookie = await login();
    expect((await request(gw.app).get('/admin/console/overview').set('Cookie', cookie).set('Accept-Language', 'fr-CD,fr;q=0.9')).text).toContain('Messages reçus');
    expect((await page(cookie, '/admin/console/overview?lang=fr')).text).toContain('<html lang="fr">');
    expect((await page(cookie, '/admin/console/overview?lang=en')).text).toContain('Messages received');
    const dir = mkdtempSync(path.join(tmpdir(), 'console-texts-'));
    const shipped = JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'flows', 'console-texts.json'), 'utf8'));
    delete shipped.languages.fr.replay;
    const file = path.join(dir, 'console-texts.json');
    writeFileSync(file, JSON.stringify(shipped));
    try {
      expect(() => loadConsoleTexts(file)).toThrow(`${file}: languages.fr.replay`);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('keeps every page, its stylesheet and script under 60 KB, and shows no personal data outside the reveal', async () => {
    const cookie = await login();
    for (let i = 0; i < 3; i++) await deadLetter();
    for (const url of ['/admin/console', '/admin/console/dead-letters', '/admin/console/trace', '/admin/console/devices', '/admin/console/forget', '/admin/console/audit', '/admin/console/overview.json']) await page(cookie, url);
    const assets = await Promise.all(['/admin/console/console.css', '/admin/console/overview.js'].map((u) => request(gw.app).get(u)));
    for (const text of [...pages, ...assets.map((a) => a.text)]) expect(Buffer.byteLength(text)).toBeLessThan(PAGE_LIMIT);
    expect(pages.length).toBeGreaterThan(15);
    expectNoPersonalData(pages, [WORDS, PHONE.slice(1), ADMIN]);
  });

  it('keeps the list small with 50 dead letters failing with long answers, and the audit page with 100 long reasons', async () => {
    primero.refuseCreates = 50;
    await Promise.all(Array.from({ length: 50 }, () => post()));
    await eventually(async () => (await gw.queue.getFailedCount()) >= 50);
    // As long as the worst answer a misconfigured Primero gives, stored as the job's failure reason.
    for (const job of await gw.queue.getFailed()) await gw.redis.hset(gw.queue.toKey(job.id!), 'failedReason', `Primero refused the case (422): ${'field is not permitted; '.repeat(200)}`);
    for (let i = 0; i < 100; i++) await gw.services.audit.record({ actor: 'it.officer', action: 'dead_letter.reveal', target: `intake.m-${i}`, detail: { reason: 'R'.repeat(200) } });
    const cookie = await login();
    const list = await page(cookie, '/admin/console/dead-letters');
    expect(list.text.match(/class="card dead-letter"/g)).toHaveLength(50);
    expect(list.text).toMatch(/(field is not permitted; ){5}[a-z ]*…/);
    const trail = await page(cookie, '/admin/console/audit');
    expect(trail.text.match(/R{200}/g)).toHaveLength(100);
    for (const text of [list.text, trail.text]) expect(Buffer.byteLength(text)).toBeLessThan(PAGE_LIMIT);
  });
});
