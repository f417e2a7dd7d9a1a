import { createHmac } from 'node:crypto';
import nock from 'nock';
import parsePrometheus from 'parse-prometheus-text-format';
import request from 'supertest';
import { scrapeMetrics, startGateway, uniquePrefix, type Gateway } from '../support/gateway';
import { acceptingPrimero } from '../support/primero-fake';

const APP_SECRET = 'fb_app_secret_metrics';
const sign = (body: string) => `sha256=${createHmac('sha256', APP_SECRET).update(body).digest('hex')}`;
const body = JSON.stringify({
  object: 'whatsapp_business_account',
  entry: [{ id: '1', changes: [{ field: 'messages', value: { messages: [{ from: '250788555901', id: 'wamid.DUP1', timestamp: '1764150009', type: 'text', text: { body: 'HELP' } }] } }] }],
});
const post = (gw: Gateway) => request(gw.app).post('/webhooks/whatsapp').set('X-Hub-Signature-256', sign(body)).set('Content-Type', 'application/json').send(body);

/** How many WhatsApp webhook requests the gateway counted with this outcome. */
async function counted(gw: Gateway, outcome: string): Promise<number> {
  const family = parsePrometheus(await scrapeMetrics(gw)).find((f) => f.name === 'gateway_messages_received_total');
  const series = family?.metrics.find((m) => m.labels?.channel === 'whatsapp' && m.labels.outcome === outcome);
  return Number(series?.value ?? 0);
}

describe('WhatsApp re-deliveries in the metrics', () => {
  let gw: Gateway;

  beforeAll(async () => {
    acceptingPrimero('cp-wa-metrics');
    gw = await startGateway({ prefix: uniquePrefix('wa-metrics'), env: { WHATSAPP_APP_SECRET: APP_SECRET }, workers: false });
  });

  afterAll(async () => {
    await gw.close();
    nock.cleanAll();
    nock.enableNetConnect();
    for (const secret of ['250788555901', 'wamid.DUP1']) expect(gw.logs.text).not.toContain(secret);
  });

  it('counts a re-delivered message as a duplicate, like the other routes, and the first delivery as accepted', async () => {
    expect((await post(gw)).body).toEqual({ status: 'ok', stored: 1, kept_unreadable: 0 });
    expect((await post(gw)).body).toEqual({ status: 'ok', stored: 1, kept_unreadable: 0 });
    expect(await counted(gw, 'accepted')).toBe(1);
    expect(await counted(gw, 'duplicate')).toBe(1);
  });
});
