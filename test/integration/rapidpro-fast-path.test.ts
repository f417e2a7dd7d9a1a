import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { scrapeMetrics, startGateway, uniquePrefix, WEBHOOK_TOKEN, type Gateway } from '../support/gateway';
import { expectNoPersonalData } from '../support/personal-data';

const PII = { urn: 'tel:+250788555444', name: 'Amani Kipchoge' };

const body = (run = randomUUID()) => ({
  contact: { uuid: randomUUID(), urn: PII.urn },
  flow: { uuid: '649754a7-5692-4b14-a1a9-e4c5fe4d18b4' },
  run: { uuid: run },
  results: { name: { value: PII.name, category: 'All Responses' }, concern: { value: 'fast path words', category: 'All Responses' } },
});

type Send = (path: string) => request.Test;

/**
 * POST /webhooks/rapidpro/<intent> is answered ahead of express at its exact path (src/http/fast-routes.ts);
 * express's router still answers every other spelling of it (`…/referral/`: express routes are not strict). Each
 * request below goes to both: the caller must not be able to tell them apart.
 */
describe('the RapidPro referral route at its exact path and through express', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startGateway({ prefix: uniquePrefix('fast-path'), workers: false });
  });
  afterAll(async () => {
    await gw.close();
  });

  const FAST = '/webhooks/rapidpro/referral';
  const EXPRESS = '/webhooks/rapidpro/referral/';
  const auth = `Token ${WEBHOOK_TOKEN}`;
  const withQuery = (path: string, query: string) => path + query;

  /** Status, body and every header but Date (and the ETag of a body that names a new reference) must match. */
  async function both(send: Send, opts: { referenceInBody?: boolean } = {}) {
    const [fast, slow] = [await send(FAST), await send(EXPRESS)];
    const headers = (r: request.Response) => Object.entries(r.headers).filter(([k]) => k !== 'date' && !(opts.referenceInBody && k === 'etag'));
    expect(fast.status).toBe(slow.status);
    expect(headers(fast)).toEqual(headers(slow));
    const shape = (b: Record<string, unknown>) => (opts.referenceInBody ? { ...b, reference: typeof b.reference } : b);
    expect(shape(fast.body)).toEqual(shape(slow.body));
    return fast;
  }

  it.each([
    ['no token', (p: string) => request(gw.app).post(p).type('json').send(body())],
    ['a wrong token', (p: string) => request(gw.app).post(p).set('Authorization', 'Token wrong').type('json').send(body())],
    ['a wrong ?token=', (p: string) => request(gw.app).post(withQuery(p, '?token=wrong')).type('json').send(body())],
    ['the token given twice in the query', (p: string) => request(gw.app).post(withQuery(p, `?token=${WEBHOOK_TOKEN}&token=${WEBHOOK_TOKEN}`)).type('json').send(body())],
    ['malformed JSON', (p: string) => request(gw.app).post(p).set('Authorization', auth).type('json').send(`{"contact": {"urn": "${PII.urn}"`)],
    ['an empty body', (p: string) => request(gw.app).post(p).set('Authorization', auth)],
    ['a body that is not a webhook body', (p: string) => request(gw.app).post(p).set('Authorization', auth).type('json').send({ contact: { urn: PII.urn } })],
    ['a body over the limit', (p: string) => request(gw.app).post(p).set('Authorization', auth).type('json').send(JSON.stringify({ ...body(), pad: 'x'.repeat(300_000) }))],
  ])('refuses %s with the same answer', async (_label, send) => {
    const res = await both(send);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.body.error.code).toEqual(expect.any(String));
  });

  it.each([
    ['a JSON body', (b: object) => (p: string) => request(gw.app).post(p).set('Authorization', auth).type('json').send(JSON.stringify(b))],
    ['a body without Content-Type (old flow editor)', (b: object) => (p: string) => request(gw.app).post(p).set('Authorization', auth).send(Buffer.from(JSON.stringify(b)))],
    ['the token in the query (resthooks)', (b: object) => (p: string) => request(gw.app).post(withQuery(p, `?token=${WEBHOOK_TOKEN}`)).type('json').send(JSON.stringify(b))],
    ['a simulator call', (b: object) => (p: string) => request(gw.app).post(p).set('Authorization', auth).set('X-Mailroom-Mode', 'simulation').type('json').send(JSON.stringify(b))],
  ])('accepts %s with the same answer', async (_label, sendBody) => {
    const res = await both((p) => sendBody(body())(p), { referenceInBody: true });
    expect(res.status).toBe(202);
  });

  it('answers a repeat with the first reference on both, and counts the same outcomes in /metrics', async () => {
    const count = async (outcome: string) => Number(new RegExp(`gateway_messages_received_total\\{channel="rapidpro",outcome="${outcome}"\\} (\\d+)`).exec(await scrapeMetrics(gw))?.[1] ?? 0);
    for (const path of [FAST, EXPRESS]) {
      const before = { accepted: await count('accepted'), duplicate: await count('duplicate'), rejected: await count('rejected') };
      const b = body();
      const post = () => request(gw.app).post(path).set('Authorization', auth).type('json').send(JSON.stringify(b));
      const first = await post();
      const again = await post();
      await request(gw.app).post(path).type('json').send(b);
      expect(again.body).toEqual({ status: 'accepted', reference: first.body.reference, duplicate: true });
      expect({ accepted: await count('accepted'), duplicate: await count('duplicate'), rejected: await count('rejected') }).toEqual({ accepted: before.accepted + 1, duplicate: before.duplicate + 1, rejected: before.rejected + 1 });
    }
  });

  it('never logs the personal data it handled', () => {
    expectNoPersonalData(gw.logs.text, [PII.urn, PII.name, '250788555444', 'fast path words']);
  });
});
