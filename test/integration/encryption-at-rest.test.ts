import { randomBytes, randomUUID } from 'node:crypto';
import nock from 'nock';
import request from 'supertest';
import { startGateway, uniquePrefix, WEBHOOK_TOKEN, type Gateway } from '../support/gateway';
import { PRIMERO } from '../support/primero-fake';
import { eventually } from '../support/eventually';

const PHONE = '+256772000123';
const NAME = 'Nakato Achieng';
const WORDS = 'my stepmother locks me outside at night';

describe('with DATA_KEY set', () => {
  let gw: Gateway;
  const created: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    nock.disableNetConnect();
    nock.enableNetConnect(/127\.0\.0\.1|localhost/);
    gw = await startGateway({ prefix: uniquePrefix('sealed'), workers: false, env: { DATA_KEY: randomBytes(32).toString('base64') } });
  });
  afterAll(async () => {
    await gw.close();
    nock.cleanAll();
    nock.enableNetConnect();
  });

  it('keeps no personal data readable in Redis, and the worker still creates the case', async () => {
    const res = await request(gw.app)
      .post('/webhooks/rapidpro/referral')
      .set('Authorization', `Token ${WEBHOOK_TOKEN}`)
      .type('json')
      .send({
        contact: { uuid: randomUUID(), urn: `tel:${PHONE}` },
        flow: { uuid: randomUUID() },
        run: { uuid: randomUUID() },
        results: { name: { value: NAME, category: 'All Responses' }, concern: { value: WORDS, category: 'All Responses' } },
      });
    expect(res.status).toBe(202);

    const dump = async () => {
      const keys = await gw.redis.keys(`${gw.config.QUEUE_PREFIX}:*`);
      const values: string[] = [];
      for (const key of keys) {
        const type = await gw.redis.type(key);
        if (type === 'hash') values.push(...Object.values(await gw.redis.hgetall(key)));
        else if (type === 'string') values.push((await gw.redis.get(key)) ?? '');
        else if (type === 'list') values.push(...(await gw.redis.lrange(key, 0, -1)));
        else if (type === 'stream') values.push(JSON.stringify(await gw.redis.xrange(key, '-', '+')));
      }
      return values.join('\n');
    };
    const stored = await dump();
    expect(stored).toContain(res.body.reference);
    for (const secret of [PHONE.slice(1), NAME, 'Nakato', WORDS]) expect(stored).not.toContain(secret);

    nock(PRIMERO)
      .post('/api/v2/cases', (b: { data: Record<string, unknown> }) => {
        created.push(b.data);
        return true;
      })
      .reply(204)
      .get(/\/api\/v2\/cases\/.+/)
      .reply(200, { data: { case_id_display: 'cp-sealed' } });
    const { startWorkers } = await import('../../workers/run-worker');
    const { createLogger } = await import('../../src/logger');
    const { shippedMappings } = await import('../support/gateway');
    const workers = startWorkers(gw.config, createLogger('silent'), shippedMappings());
    try {
      const link = await eventually(() => gw.references.get(res.body.reference));
      expect(link.urn).toBe(`tel:${PHONE}`);
      expect(created[0]).toMatchObject({ telephone_current: PHONE, name_first: 'Nakato', protection_concerns_other: WORDS });
      const after = await dump();
      for (const secret of [PHONE.slice(1), NAME, WORDS]) expect(after).not.toContain(secret);
    } finally {
      await workers.close(5000);
    }
  });
});
