import request from 'supertest';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { startGateway, uniquePrefix, WEBHOOK_TOKEN, type Gateway } from '../support/gateway';
import { eventually } from '../support/eventually';
import { PrivateRedis } from '../../demo/sandbox/redis-server';
import { rapidProIdempotencyKey, rapidProWebhookSchema } from '../../src/channels/rapidpro/parse';
import { gatewayKey } from '../../src/store/keys';
import type { IntakeOptions } from '../../src/queues/intake';
import type { ReplicaAck, ReplicaWait } from '../../src/queues/replica-ack';

const referral = () => ({
  contact: { uuid: randomUUID(), urn: 'tel:+250788456457' },
  flow: { uuid: '649754a7-5692-4b14-a1a9-e4c5fe4d18b4' },
  run: { uuid: randomUUID() },
  results: { concern: { value: 'deadline words', category: 'All Responses' } },
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** The WAITs around the confirmation, and the request's deadline, when a replica is slow but healthy. */
describe('REDIS_MIN_REPLICAS_ACK and the request deadline', () => {
  let primary: PrivateRedis;
  let replica: PrivateRedis;
  let probe: Redis;
  let gw: Gateway;
  let real: ReplicaAck;
  const opts = () => (gw.services.producer as unknown as { opts: IntakeOptions }).opts;
  const post = (body: object) => request(gw.app).post('/webhooks/rapidpro/referral').set('Authorization', `Token ${WEBHOOK_TOKEN}`).type('json').send(body);
  /** Each WAIT of an acceptance goes through `slow(call, until, wait)` (call 1 before the confirmation, 2 after). */
  const slowed = (slow: (call: number, until: number | undefined, deadlineAt: number, wait: ReplicaWait) => Promise<void>): ReplicaAck => ({
    begin: async (deadlineAt) => {
      const wait = await real.begin(deadlineAt);
      let calls = 0;
      return (until) => slow(++calls, until, deadlineAt, wait);
    },
  });

  beforeAll(async () => {
    primary = await PrivateRedis.start();
    replica = await PrivateRedis.start(['--appendonly', 'no', '--replicaof', '127.0.0.1', String(primary.port)]);
    probe = new Redis(primary.url);
    await eventually(async () => (await probe.info('replication')).includes('state=online'), 10000, 'the replica online');
    gw = await startGateway({ prefix: uniquePrefix('replica-deadline'), workers: false, env: { REDIS_URL: primary.url, REDIS_MIN_REPLICAS_ACK: '1', REDIS_REPLICA_ACK_TIMEOUT_MS: '1000', ENQUEUE_TIMEOUT_MS: '1500' } });
    real = opts().replicaAck!;
  });

  afterEach(() => {
    opts().replicaAck = real;
  });

  afterAll(async () => {
    await gw.close();
    await probe.quit();
    await replica.destroy();
    await primary.destroy();
  });

  it('a message confirmed as stored is never answered "nothing was stored", also when the deadline passes during the WAIT after the confirmation', async () => {
    // The WAIT after the confirmation answers well after the deadline (and after the time allowed for a verdict).
    opts().replicaAck = slowed(async (call, until, deadlineAt, wait) => {
      if (call > 1) await sleep(deadlineAt + 800 - Date.now());
      await wait(until);
    });
    const body = referral();
    const refused = await post(body);
    expect(refused.status).toBe(503);
    expect(refused.body.error.message).toContain('may be stored');
    expect(gw.logs.text).toContain('message stored, replication unconfirmed');
    const hashed = gw.services.hasher.deduplicationId(rapidProIdempotencyKey('referral', rapidProWebhookSchema.parse(body)));
    expect((await probe.hgetall(gatewayKey(gw.config.QUEUE_PREFIX, 'accepted', hashed))).stored).toBe('1');
  });

  it('keeps time for the WAIT after the confirmation: a replica that answers the first WAIT late and the second in 400 ms still gives 202', async () => {
    opts().replicaAck = slowed(async (call, until, deadlineAt, wait) => {
      // The first WAIT answers just inside what it was allowed; the second needs 400 ms (past the 250 ms grace).
      await sleep(call === 1 ? (until ?? deadlineAt) - 5 - Date.now() : 400);
      await wait(until);
    });
    const res = await post(referral());
    expect(res.status).toBe(202);
  });
});
