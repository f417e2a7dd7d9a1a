import { randomUUID } from 'node:crypto';
import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
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

/** What both spellings must agree on; supertest's response has it, and so does {@link rawPost}'s. */
interface Answer {
  status: number;
  headers: Record<string, unknown>;
  body: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}
type Send = (path: string) => PromiseLike<Answer>;

const feedback = () => ({
  contact: { uuid: randomUUID(), urn: PII.urn, language: 'eng' },
  flow: { uuid: '3c1f6a2e-2b0d-4c55-9a1e-7c4f3b2d1e00' },
  run: { uuid: randomUUID() },
  results: { category: { value: 'complaint', category: 'complaint' }, description: { value: 'fast path words', category: 'All Responses' } },
});

/**
 * POST /webhooks/rapidpro/<intent> is answered ahead of express at its exact path (src/http/fast-routes.ts);
 * express's router still answers every other spelling of it (`…/referral/`: express routes are not strict). Each
 * request below goes to both: the caller must not be able to tell them apart.
 */
describe('the RapidPro referral route at its exact path and through express', () => {
  let gw: Gateway;
  let server: Server;
  let expressRouter: jest.SpyInstance;
  beforeAll(async () => {
    gw = await startGateway({ prefix: uniquePrefix('fast-path'), workers: false });
    // Every request express handles goes through its router; one the fast path answers never does.
    expressRouter = jest.spyOn((gw.app as unknown as { router: { handle: () => void } }).router, 'handle');
    server = gw.app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
  });
  afterAll(async () => {
    expressRouter.mockRestore();
    await new Promise((resolve) => server.close(resolve));
    await gw.close();
  });

  /** A POST written as `chunks` (no Content-Length: chunked) to `target` as given, bytes supertest cannot send. */
  function rawPost(target: string, headers: Record<string, string>, chunks: string[]): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const { port } = server.address() as AddressInfo;
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: target, headers, agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text ? JSON.parse(text) : {} }));
      });
      req.on('error', reject);
      // A refusal can come before the last chunk is written; the answer is what is compared.
      for (const chunk of chunks) req.write(chunk);
      req.end();
    });
  }

  const FAST = '/webhooks/rapidpro/referral';
  const EXPRESS = '/webhooks/rapidpro/referral/';
  const auth = `Token ${WEBHOOK_TOKEN}`;
  const withQuery = (path: string, query: string) => path + query;

  /** Status, body and every header but Date (and the ETag of a body that names a new reference) must match. */
  async function both(send: Send, opts: { referenceInBody?: boolean; intent?: string } = {}) {
    const [fastPath, expressPath] = opts.intent ? [`/webhooks/rapidpro/${opts.intent}`, `/webhooks/rapidpro/${opts.intent}/`] : [FAST, EXPRESS];
    expressRouter.mockClear();
    const fast = await send(fastPath);
    expect(expressRouter).toHaveBeenCalledTimes(0);
    const slow = await send(expressPath);
    expect(expressRouter).toHaveBeenCalledTimes(1);
    const headers = (r: Answer) => Object.entries(r.headers).filter(([k]) => k !== 'date' && !(opts.referenceInBody && k === 'etag'));
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
    ['a chunked body over the limit', (p: string) => rawPost(p, { Authorization: auth, 'Content-Type': 'application/json' }, [`{"pad": "`, ...Array<string>(3).fill('x'.repeat(100_000)), '"}'])],
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

  // Node passes a `#` in the request target on; express's query ends at it (parseurl), and so must the fast path's.
  it.each([
    [`?token=${WEBHOOK_TOKEN}#frag`, 202],
    [`?a=#&token=${WEBHOOK_TOKEN}`, 401],
    [`#?token=${WEBHOOK_TOKEN}`, 401],
  ])('reads the target %s with its fragment cut off, the same answer on both', async (suffix, status) => {
    const res = await both((p) => rawPost(p + suffix, { 'Content-Type': 'application/json' }, [JSON.stringify(body())]), { referenceInBody: true });
    expect(res.status).toBe(status);
  });

  it('accepts a feedback report with the same answer', async () => {
    const res = await both((p) => request(gw.app).post(p).set('Authorization', auth).type('json').send(feedback()), { referenceInBody: true, intent: 'feedback' });
    expect(res.status).toBe(202);
  });

  it('answers 503 with the same Retry-After when the message cannot be stored', async () => {
    // What the producer sees while Redis is gone (redis-down.test.ts stops a real one; reliability.test.ts does this).
    const add = jest.spyOn(gw.queue, 'add').mockRejectedValue(new Error('Connection is closed.'));
    try {
      const res = await both((p) => request(gw.app).post(p).set('Authorization', auth).type('json').send(body()));
      expect([res.status, res.headers['retry-after'], res.body.error.code]).toEqual([503, '5', 'unavailable']);
    } finally {
      add.mockRestore();
    }
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
