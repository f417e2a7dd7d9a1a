/**
 * npx tsx scripts/console-screenshot.ts — redraws docs/console-overview.png, the README's picture of the console.
 *
 * The real gateway (API and workers) on a Redis at REDIS_URL, under a private prefix it removes at the end, with
 * the tests' fake Primero: a few referrals become cases, one is refused and stays as a dead letter. Headless
 * Chromium (test/support/chromium.ts finds it) logs in at phone width and photographs the overview.
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import nock from 'nock';
import { chromium } from 'playwright-core';
import request from 'supertest';
import { findChromium } from '../test/support/chromium';
import { eventually } from '../test/support/eventually';
import { startGateway, uniquePrefix, untilGatewayDrained, WEBHOOK_TOKEN } from '../test/support/gateway';
import { PRIMERO, RecordingPrimero } from '../test/support/primero-fake';

const ADMIN = 'console-screenshot-admin-token';
const OUT = path.join(__dirname, '..', 'docs', 'console-overview.png');

async function main(): Promise<void> {
  const lookup = findChromium();
  if (!lookup.found) throw new Error(lookup.problem);
  nock.disableNetConnect();
  nock.enableNetConnect(/127\.0\.0\.1|localhost/);
  const primero = new RecordingPrimero(PRIMERO);
  const gw = await startGateway({ prefix: uniquePrefix('screenshot'), env: { ADMIN_TOKEN: ADMIN } });
  const server = gw.app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const browser = await chromium.launch({ executablePath: lookup.path, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'] });
  try {
    for (let i = 0; i < 5; i++) {
      primero.refuseCreates = i === 4 ? 1 : 0;
      const res = await request(gw.app)
        .post('/webhooks/rapidpro/referral')
        .set('Authorization', `Token ${WEBHOOK_TOKEN}`)
        .type('json')
        .send({ contact: { uuid: randomUUID(), urn: `tel:+24381000${1000 + i}` }, flow: { uuid: randomUUID() }, run: { uuid: randomUUID() }, results: { concern: { value: 'example', category: 'All Responses' } } });
      await eventually(async () => ['completed', 'failed'].includes(await gw.queue.getJobState(`m-${res.body.reference}`)));
    }
    await untilGatewayDrained(gw);
    const page = await (await browser.newContext({ viewport: { width: 360, height: 740 }, locale: 'en-GB' })).newPage();
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/admin/console`);
    await page.fill('#token', ADMIN);
    await page.fill('#operator', 'it.officer');
    await page.click('button[type="submit"]');
    await page.waitForSelector('#overview');
    await page.screenshot({ path: OUT, fullPage: true });
    process.stdout.write(`wrote ${OUT}\n`);
  } finally {
    await browser.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await gw.close();
    nock.cleanAll();
  }
}

main().catch((err: Error) => {
  process.stderr.write(`console-screenshot: ${err.message}\n`);
  process.exit(1);
});
