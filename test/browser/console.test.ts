import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import nock from 'nock';
import { chromium, type Browser, type Page } from 'playwright-core';
import request from 'supertest';
import webpush from 'web-push';
import { browserTestRequired, findChromium } from '../support/chromium';
import { eventually } from '../support/eventually';
import { AdminSessionStore } from '../../src/store/admin-sessions';
import { startGateway, uniquePrefix, WEBHOOK_TOKEN, webPushEnv, type Gateway } from '../support/gateway';
import { expectNoPersonalData } from '../support/personal-data';
import { PRIMERO, RecordingPrimero } from '../support/primero-fake';

const chromiumLookup = findChromium();
const ADMIN = 'admin-token-console-browser-1';
const PHONE = '+243810000654';
const WORDS = 'a man at the market follows my sister';
const CASEWORKER = 'josephine.k';

if (!chromiumLookup.found && browserTestRequired()) {
  it('the operator console in headless Chromium', () => {
    throw new Error(chromiumLookup.problem);
  });
}

/** An IT officer on a phone, then at a desk: log in, find the dead letter, replay it, see the case, revoke a lost phone. */
(chromiumLookup.found ? describe : describe.skip)('the operator console in headless Chromium', () => {
  let gw: Gateway;
  let server: Server;
  let browser: Browser;
  let primero: RecordingPrimero;
  let base: string;
  // Kept after the run for a person to look at (CI can upload the folder); the assertions are what the test checks.
  const shots = mkdtempSync(path.join(tmpdir(), 'console-screens-'));
  const seen: string[] = [];

  async function deadLetter(): Promise<string> {
    primero.refuseCreates = 1;
    const res = await request(gw.app)
      .post('/webhooks/rapidpro/referral')
      .set('Authorization', `Token ${WEBHOOK_TOKEN}`)
      .type('json')
      .send({ contact: { uuid: randomUUID(), urn: `tel:${PHONE}` }, flow: { uuid: randomUUID() }, run: { uuid: randomUUID() }, results: { concern: { value: WORDS, category: 'All Responses' } } });
    const reference = res.body.reference as string;
    await eventually(async () => (await gw.queue.getJobState(`m-${reference}`)) === 'failed');
    return reference;
  }

  /** What a person must see on this page, each visible, and nothing wider than the screen at phone width. */
  async function check(page: Page, name: string, selectors: string[], width: number): Promise<void> {
    for (const selector of selectors) expect([name, selector, await page.locator(selector).first().isVisible()]).toEqual([name, selector, true]);
    const scroll = await page.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth);
    expect([name, scroll <= width]).toEqual([name, true]);
    await page.screenshot({ path: path.join(shots, `${name}-${width}.png`), fullPage: true });
    seen.push(await page.content());
  }

  async function logIn(page: Page): Promise<void> {
    await page.goto(`${base}/admin/console`);
    await page.fill('#token', ADMIN);
    await page.fill('#operator', 'it.officer');
    await page.click('button[type="submit"]');
    await page.waitForSelector('#overview');
  }

  beforeAll(async () => {
    nock.disableNetConnect();
    nock.enableNetConnect(/127\.0\.0\.1|localhost/);
    primero = new RecordingPrimero(PRIMERO);
    gw = await startGateway({ prefix: uniquePrefix('console-browser'), env: { ADMIN_TOKEN: ADMIN, ...webPushEnv(webpush.generateVAPIDKeys()), PUBLIC_URL: 'https://gateway.example.org' } });
    server = gw.app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await chromium.launch({
      executablePath: chromiumLookup.found ? chromiumLookup.path : undefined,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  }, 60000);

  afterAll(async () => {
    await browser?.close();
    if (server) {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
    await gw?.close();
    nock.cleanAll();
    nock.enableNetConnect();
    expectNoPersonalData(gw?.logs.text ?? '', [WORDS, PHONE.slice(1)]);
  });

  it('on a phone: logs in, replays a dead letter once Primero accepts, sees the case, revokes a device', async () => {
    const reference = await deadLetter();
    await gw.services.notifications.subscriptions.add(CASEWORKER, { endpoint: 'https://fcm.googleapis.com/fcm/send/lost-phone', keys: { p256dh: 'BNc', auth: 'xyz' } }, 'eng');
    const context = await browser.newContext({ viewport: { width: 360, height: 740 }, locale: 'en-GB' });
    const page = await context.newPage();
    const refused: string[] = [];
    page.on('console', (m) => (m.type() === 'error' ? refused.push(m.text()) : undefined));
    await logIn(page);
    await check(page, 'overview', ['nav', '[data-field="messagesReceived"]', '[data-field="casesCreated"]', '[data-field="deadLetters"]'], 360);
    expect(await page.textContent('[data-field="deadLetters"]')).toBe('1');
    // The figures follow without a reload: a second dead letter shows once the page refreshes (here: the operator
    // coming back to the tab, rather than waiting out the 15 s timer).
    await deadLetter();
    await page.evaluate(() => (globalThis as unknown as { document: { dispatchEvent(e: unknown): void } }).document.dispatchEvent(new Event('visibilitychange')));
    await page.waitForSelector('[data-field="deadLetters"]:text-is("2")');
    expect(refused).toEqual([]);

    await page.click('nav >> text=Dead letters');
    const item = page.locator(`.dead-letter[data-id="intake.m-${reference}"]`);
    await check(page, 'dead-letters', ['nav', `.dead-letter[data-id="intake.m-${reference}"]`, `.dead-letter[data-id="intake.m-${reference}"] button:has-text("Replay")`], 360);
    expect(primero.createCalls).toBe(2);
    await item.locator('button:has-text("Replay")').click();
    await page.waitForSelector('.notice');
    const link = await eventually(() => gw.references.get(reference));
    expect(primero.created.map((c) => c.id)).toEqual([link.caseId]);

    await page.click('nav >> text=Trace');
    await page.fill('#reference', reference);
    await page.click('button:has-text("Look up")');
    await check(page, 'trace', ['nav', '#case-id', '#timeline'], 360);
    // No display id is read for a case nobody was alerted about: the console names it by its record id.
    expect(await page.textContent('#case-id')).toBe(link.caseIdDisplay ?? link.caseId);

    await page.click('nav >> text=Devices');
    await page.fill('#list-user', CASEWORKER);
    await page.click('button:has-text("List devices")');
    await check(page, 'devices', ['nav', '.device button:has-text("Revoke")'], 360);
    await page.click('.device button:has-text("Revoke")');
    await page.waitForSelector('.notice');
    expect(await gw.services.notifications.subscriptions.devices(CASEWORKER)).toEqual([]);
    await context.close();
  }, 60000);

  it('at a desk: the overview and the dead-letter list show what a person needs', async () => {
    const reference = await deadLetter();
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await logIn(page);
    await check(page, 'overview', ['nav', '[data-field="messagesReceived"]', '[data-field="casesCreated"]', '[data-field="deadLetters"]'], 1280);
    await page.click('nav >> text=Dead letters');
    await check(page, 'dead-letters', ['nav', `.dead-letter[data-id="intake.m-${reference}"] button:has-text("Replay")`], 1280);
    await context.close();
    expectNoPersonalData(seen, [WORDS, PHONE.slice(1)]);
  }, 60000);

  it('reveals, replays a filtered set after its count, draws an enrollment QR code under the CSP, and says when the figures went stale', async () => {
    const [first, second] = [await deadLetter(), await deadLetter()];
    const context = await browser.newContext({ viewport: { width: 360, height: 740 }, locale: 'en-GB' });
    const page = await context.newPage();
    // A CSP violation (an inline script or style, a foreign asset) is reported as a console error.
    const errors: string[] = [];
    page.on('console', (m) => (m.type() === 'error' ? errors.push(m.text()) : undefined));
    page.on('pageerror', (e) => errors.push(e.message));
    await logIn(page);

    await page.goto(`${base}/admin/console/dead-letters/intake.m-${first}`);
    await page.fill('#reason-reveal', 'checking the form fields');
    await page.click('button:has-text("Reveal personal data")');
    await page.waitForSelector('h2:text-is("Message (revealed)")');
    expect(await page.textContent('pre')).toContain(PHONE);

    await page.goto(`${base}/admin/console/dead-letters`);
    await page.click('a:has-text("Replay all that match")');
    const counted = Number(await page.getAttribute('#dry-run-count', 'data-count'));
    expect(counted).toBeGreaterThanOrEqual(2);
    await page.click('button:has-text("Replay them now")');
    await page.waitForSelector('#replay-result');
    expect(await page.textContent('#replay-result')).toBe(`Replayed ${counted} of the ${counted} counted; 0 were no longer dead letters.`);
    for (const reference of [first, second]) await eventually(() => gw.references.get(reference));

    await page.goto(`${base}/admin/console/devices`);
    await page.fill('#enroll-user', CASEWORKER);
    await page.click('button:has-text("Issue link")');
    await page.waitForSelector('#enrollment-qr svg');
    expect(await page.locator('#enrollment-qr svg').isVisible()).toBe(true);

    // The session ends elsewhere (`sessions end-all`): the overview says its figures are old instead of looking current.
    await page.goto(`${base}/admin/console`);
    expect(await page.locator('[data-field="stale"]').isVisible()).toBe(false);
    await new AdminSessionStore(gw.redis, gw.config.QUEUE_PREFIX).endAll();
    await page.evaluate(() => (globalThis as unknown as { document: { dispatchEvent(e: unknown): void } }).document.dispatchEvent(new Event('visibilitychange')));
    await page.waitForSelector('[data-field="stale"]:visible');
    expect(await page.textContent('[data-field="stale"]')).toMatch(/^Not updated since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC: log in again\.$/);
    expect(errors).toEqual([]);
    await context.close();
  }, 60000);
});
