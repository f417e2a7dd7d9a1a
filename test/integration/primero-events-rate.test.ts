import { randomUUID } from 'node:crypto';
import nock from 'nock';
import request from 'supertest';
import { startGateway, uniquePrefix, type Gateway } from '../support/gateway';
import { eventually } from '../support/eventually';
import { PRIMERO, primeroWebhookBody, RecordingPrimero } from '../support/primero-fake';

const KEY = 'primero-webhook-key-rate';
const RATE = 2;

// A bulk reassign in Primero sends one webhook per case; each partial body costs a read of the case.
describe('the Primero events worker under a burst of webhooks', () => {
  let gw: Gateway;
  let primero: RecordingPrimero;

  beforeAll(async () => {
    nock.disableNetConnect();
    nock.enableNetConnect(/127\.0\.0\.1|localhost/);
    primero = new RecordingPrimero(PRIMERO);
    gw = await startGateway({ prefix: uniquePrefix('pevrate'), env: { PRIMERO_WEBHOOK_API_KEY: KEY, PRIMERO_POLL_INTERVAL_SECONDS: '0', PRIMERO_EVENTS_RATE_PER_SECOND: String(RATE) } });
  });
  afterAll(async () => {
    await gw.close();
    nock.cleanAll();
    nock.enableNetConnect();
  });

  it('reads Primero no faster than PRIMERO_EVENTS_RATE_PER_SECOND, all workers together', async () => {
    const ids: string[] = Array.from({ length: 5 }, () => randomUUID());
    const at = new Date(Date.now() - 60_000).toISOString();
    for (const id of ids) primero.records.set(id, { id, owned_by: 'cp_worker', assigned_user_names: ['cp_worker'], status: 'open', workflow: 'case_plan', last_updated_at: at });
    // No job can start before the first webhook is answered: the limiter's promise is measured from there.
    const firstAccepted = Date.now();
    for (const id of ids) {
      const res = await request(gw.app).post('/webhooks/primero').set('x-api-key', KEY).type('json').send(JSON.stringify(primeroWebhookBody('partial', id, at)));
      expect(res.status).toBe(202);
    }
    const reads = await eventually(() => {
      const mine = primero.reads.filter((r) => ids.includes(r.id));
      // At least one read per record: a job retried under load (a slow answer) may read twice, and must not hang the test.
      return new Set(mine.map((r) => r.id)).size === ids.length ? mine : undefined;
    });
    // Five jobs at two a second need two full limiter windows after the first job starts. Measured from the first
    // read instead, the first job's own latency (a cold connection) came off the span and failed a sound limiter.
    expect(reads[reads.length - 1]!.at - firstAccepted).toBeGreaterThanOrEqual(2000);
  });
});
