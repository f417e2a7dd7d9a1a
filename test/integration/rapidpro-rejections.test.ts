import request from 'supertest';
import { startGateway, uniquePrefix, WEBHOOK_TOKEN, type Gateway } from '../support/gateway';

const PII = { urn: 'tel:+250788999111', name: 'Zawadi Mwangi' };

const validBody = {
  contact: { uuid: '102422cf-2c55-48fa-9ef3-06fe9353a4cc', urn: PII.urn },
  flow: { uuid: '649754a7-5692-4b14-a1a9-e4c5fe4d18b4' },
  results: { name: { value: PII.name, category: 'All Responses' } },
};

describe('what the RapidPro routes refuse', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startGateway({ prefix: uniquePrefix('reject'), workers: false });
  });
  afterAll(async () => {
    await gw.close();
  });

  const nothingStored = async () => expect(await gw.queue.getJobCountByTypes('waiting', 'active', 'completed', 'failed', 'delayed')).toBe(0);

  it.each([
    ['no token', {}],
    ['a wrong header token', { Authorization: 'Token not-the-token' }],
    ['a Bearer scheme', { Authorization: `Bearer ${WEBHOOK_TOKEN}` }],
  ])('answers 401 to %s and stores nothing', async (_label, headers) => {
    const res = await request(gw.app).post('/webhooks/rapidpro/referral').set(headers).type('json').send(validBody);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('unauthorized');
    await nothingStored();
  });

  it('answers 401 to a wrong ?token=', async () => {
    const res = await request(gw.app).post('/webhooks/rapidpro/referral?token=wrong').type('json').send(validBody);
    expect(res.status).toBe(401);
    await nothingStored();
  });

  it('answers 400 to malformed JSON without echoing it', async () => {
    const res = await request(gw.app)
      .post('/webhooks/rapidpro/referral')
      .set('Authorization', `Token ${WEBHOOK_TOKEN}`)
      .type('json')
      .send(`{"contact": {"urn": "${PII.urn}", "name": "${PII.name}"`);
    expect(res.status).toBe(400);
    expect(res.body.error).toEqual({ code: 'malformed_json', message: expect.any(String), details: [] });
    expect(JSON.stringify(res.body)).not.toContain('250788999111');
    await nothingStored();
  });

  it('answers 400 to an empty body', async () => {
    const res = await request(gw.app).post('/webhooks/rapidpro/referral').set('Authorization', `Token ${WEBHOOK_TOKEN}`);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('empty_body');
  });

  it('answers 422 naming each wrong field, never its value', async () => {
    const res = await request(gw.app)
      .post('/webhooks/rapidpro/referral')
      .set('Authorization', `Token ${WEBHOOK_TOKEN}`)
      .type('json')
      .send({ contact: { uuid: PII.name, urn: PII.urn }, results: [] });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('invalid_body');
    const paths = res.body.error.details.map((d: { path: string }) => d.path);
    expect(paths).toEqual(expect.arrayContaining(['contact.uuid', 'flow', 'results']));
    expect(JSON.stringify(res.body)).not.toContain(PII.name);
    expect(JSON.stringify(res.body)).not.toContain('250788999111');
    await nothingStored();
  });

  it('answers 413 to a body over 256 KiB', async () => {
    const huge = { ...validBody, results: { concern: { value: 'x'.repeat(300 * 1024), category: 'All Responses' } } };
    const res = await request(gw.app).post('/webhooks/rapidpro/referral').set('Authorization', `Token ${WEBHOOK_TOKEN}`).type('json').send(huge);
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('body_too_large');
    await nothingStored();
  });

  it('answers 404 for an unknown route and leaves no stack trace anywhere', async () => {
    const res = await request(gw.app).post('/webhooks/rapidpro/nothing').set('Authorization', `Token ${WEBHOOK_TOKEN}`).send({});
    expect(res.status).toBe(404);
    expect(res.text).not.toMatch(/at .+\.ts:\d+/);
  });

  it('switches the route off (404) when RAPIDPRO_WEBHOOK_TOKEN is unset', async () => {
    const off = await startGateway({ prefix: uniquePrefix('off'), workers: false, env: { RAPIDPRO_WEBHOOK_TOKEN: '' } });
    try {
      const res = await request(off.app).post('/webhooks/rapidpro/referral').set('Authorization', 'Token anything').type('json').send(validBody);
      expect(res.status).toBe(404);
    } finally {
      await off.close();
    }
  });

  it('serves /healthz and /readyz', async () => {
    expect((await request(gw.app).get('/healthz')).body).toEqual({ status: 'ok' });
    expect((await request(gw.app).get('/readyz')).body).toEqual({ status: 'ready', redis: 'ok' });
  });

  it('logged nothing of what was sent', () => {
    expect(gw.logs.text).not.toContain(PII.name);
    expect(gw.logs.text).not.toContain('250788999111');
  });
});
