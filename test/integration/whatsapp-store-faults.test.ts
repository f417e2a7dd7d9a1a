import { createHmac } from 'node:crypto';
import request from 'supertest';
import { QueueUnavailableError } from '../../src/queues/deadline';
import type { ProviderMessage } from '../../src/intake/provider-messages';
import { startGateway, uniquePrefix, type Gateway } from '../support/gateway';

const APP_SECRET = 'fb_app_secret_faults';
const sign = (body: string) => `sha256=${createHmac('sha256', APP_SECRET).update(body).digest('hex')}`;
const batch = (ids: string[]) =>
  JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [{ id: '1', changes: [{ field: 'messages', value: { messaging_product: 'whatsapp', messages: ids.map((id, i) => ({ from: `25471120005${i}`, id, timestamp: '1764150050', type: 'text', text: { body: 'HELP' } })) } }] }],
  });

/*
 * withinDeadline reports every failure on the storing path as "Redis unavailable". One caused by the content
 * would fail on every re-delivery (Meta retries, then disables the webhook): that message is set aside as a
 * dead letter and the rest stored. Only Redis really being away answers 503.
 */
describe('WhatsApp POST when storing one message fails', () => {
  let gw: Gateway;

  beforeAll(async () => {
    gw = await startGateway({ prefix: uniquePrefix('wa-faults'), workers: false, env: { WHATSAPP_APP_SECRET: APP_SECRET } });
  });

  afterAll(async () => {
    jest.restoreAllMocks();
    await gw.close();
  });

  const post = (body: string) => request(gw.app).post('/webhooks/whatsapp').set('X-Hub-Signature-256', sign(body)).set('Content-Type', 'application/json').send(body);

  it('keeps the message whose content made storing throw as a dead letter, stores the others, and answers 200', async () => {
    const providerMessages = gw.services.providerMessages;
    const real = providerMessages.accept.bind(providerMessages);
    const spy = jest.spyOn(providerMessages, 'accept').mockImplementation((m: ProviderMessage) =>
      m.providerId === 'wamid.fx-throws' ? Promise.reject(new QueueUnavailableError('Redis is unavailable', { cause: new RangeError('Invalid time value') })) : real(m),
    );
    const res = await post(batch(['wamid.fx-ok-1', 'wamid.fx-throws', 'wamid.fx-ok-2']));
    spy.mockRestore();
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok', stored: 2, kept_unreadable: 1 });
    const kept = await gw.services.whatsappUnreadable.queue.getJobs(['wait']);
    expect(kept).toHaveLength(1);
    expect(kept[0]!.data.reason).toBe('WhatsApp message could not be stored (RangeError)');
  });

  it('answers 503 when Redis itself is away, so Meta delivers again', async () => {
    const spy = jest.spyOn(gw.services.providerMessages, 'accept').mockRejectedValue(new QueueUnavailableError('Redis is unavailable', { cause: new Error('Connection is closed.') }));
    const res = await post(batch(['wamid.fx-redis-away']));
    spy.mockRestore();
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
  });
});
