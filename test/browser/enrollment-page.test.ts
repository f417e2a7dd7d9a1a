import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import request from 'supertest';
import webpush from 'web-push';
import { browserTestRequired, findChromium } from '../support/chromium';
import { startGateway, uniquePrefix, type Gateway } from '../support/gateway';
import { FakePushService } from '../../demo/sandbox/push-service';

const chromiumLookup = findChromium();
const ADMIN = 'admin-token-browser-1';

// Without Chromium there is one line saying what to install (a failure under CI, else a skip), and no hooks run.
if (!chromiumLookup.found && browserTestRequired()) {
  it('the enrollment page in headless Chromium', () => {
    throw new Error(chromiumLookup.problem);
  });
}

/**
 * The enrollment page in a real headless Chromium. Offline, Chrome's pushManager.subscribe cannot reach
 * FCM, so it is stubbed to return a subscription on the test push service; everything else is real: the
 * page, its script, the service worker registration, the permission prompt and the POST it makes.
 */
(chromiumLookup.found ? describe : describe.skip)('the enrollment page in headless Chromium', () => {
  let gw: Gateway;
  let server: Server;
  let browser: Browser;
  let push: FakePushService;
  const vapid = webpush.generateVAPIDKeys();

  beforeAll(async () => {
    push = await FakePushService.start(vapid.publicKey);
    gw = await startGateway({
      prefix: uniquePrefix('browser'),
      workers: false,
      env: { ADMIN_TOKEN: ADMIN, VAPID_PUBLIC_KEY: vapid.publicKey, VAPID_PRIVATE_KEY: vapid.privateKey, VAPID_SUBJECT: 'mailto:ops@example.org', PUSH_ENDPOINT_HOSTS: new URL(push.origin).host },
    });
    server = gw.app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    browser = await chromium.launch({
      executablePath: chromiumLookup.found ? chromiumLookup.path : undefined,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  }, 60000);

  afterAll(async () => {
    await browser?.close();
    // A beforeAll that failed half-way leaves some of these unset: close what exists, never wait on what does not.
    if (server) {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
    await gw?.close();
    await push?.stop();
  });

  it.each([
    ['eng', 'en-GB', 'Alerts are on for this device.', 'ltr'],
    ['ara', 'ar', 'التنبيهات مفعلة على هذا الجهاز.', 'rtl'],
  ])('enrolls a device in %s and shows success', async (language, locale, success, dir) => {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const { body } = await request(gw.app).post('/admin/enrollments').set('Authorization', `Bearer ${ADMIN}`).send({ user_name: `worker_${language}` });
    const subscription = push.subscribe(`browser-${language}`);

    const context = await browser.newContext({ locale });
    await context.grantPermissions(['notifications'], { origin: base });
    await context.addInitScript((sub) => {
      const fake = { endpoint: sub.endpoint, toJSON: () => sub, unsubscribe: async () => true };
      const pm = (globalThis as unknown as { PushManager: { prototype: Record<string, unknown> } }).PushManager.prototype;
      pm.subscribe = async () => fake;
      pm.getSubscription = async () => fake;
    }, subscription);
    const page = await context.newPage();
    const posted = page.waitForRequest((r) => r.url().endsWith('/push/subscriptions') && r.method() === 'POST');
    await page.goto(`${base}/push?token=${body.token}`);
    expect(await page.getAttribute('html', 'dir')).toBe(dir);
    await page.click('#enable');
    const sent = JSON.parse((await posted).postData() ?? '{}');
    expect(sent).toEqual({ enrollment_token: body.token, subscription, language });
    await page.waitForSelector('#status[data-state="enabled"]', { timeout: 10000 });
    expect(await page.textContent('#status')).toBe(success);
    const registered = await page.evaluate(async () => {
      type Registration = { active?: { scriptURL: string } } | undefined;
      const nav = (globalThis as unknown as { navigator: { serviceWorker: { ready: Promise<Registration> } } }).navigator;
      return (await nav.serviceWorker.ready)?.active?.scriptURL ?? null;
    });
    expect(registered).toBe(`${base}/push/sw.js`);

    const stored = await gw.services.notifications.subscriptions.list(`worker_${language}`);
    expect(stored.map((s) => [s.subscription.endpoint, s.language])).toEqual([[subscription.endpoint, language]]);

    // The same link a second time is refused, and the page says so.
    const again = await context.newPage();
    await again.goto(`${base}/push?token=${body.token}`);
    await again.click('#enable');
    await again.waitForSelector('#status[data-state="failed"]', { timeout: 10000 });
    await context.close();
  }, 60000);
});
