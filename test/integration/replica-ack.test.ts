import request from 'supertest';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { startGateway, uniquePrefix, WEBHOOK_TOKEN, type Gateway } from '../support/gateway';
import { eventually } from '../support/eventually';
import { expectNoPersonalData } from '../support/personal-data';
import { PrivateRedis } from '../../demo/sandbox/redis-server';

const URN = 'tel:+250788456456';
const WORDS = 'replica wait words';

const referral = () => ({
  contact: { uuid: randomUUID(), urn: URN },
  flow: { uuid: '649754a7-5692-4b14-a1a9-e4c5fe4d18b4' },
  run: { uuid: randomUUID() },
  results: { concern: { value: WORDS, category: 'All Responses' } },
});

/** Until the primary counts `n` replicas online (a replica's first sync takes a moment; a killed one's link must drop). */
async function replicasOnline(primary: Redis, n: number): Promise<void> {
  await eventually(async () => {
    const info = await primary.info('replication');
    return /connected_slaves:(\d+)/.exec(info)?.[1] === String(n) && (n === 0 || info.includes('state=online'));
  }, 10000, `${n} replica(s) online`);
}

describe('REDIS_MIN_REPLICAS_ACK: a 2xx only once a replica holds the acceptance', () => {
  let primary: PrivateRedis;
  let replica: PrivateRedis;
  let probe: Redis;
  let gw: Gateway;
  let firstJobId = '';
  const post = (body: object) => request(gw.app).post('/webhooks/rapidpro/referral').set('Authorization', `Token ${WEBHOOK_TOKEN}`).type('json').send(body);

  beforeAll(async () => {
    primary = await PrivateRedis.start();
    replica = await PrivateRedis.start(['--appendonly', 'no', '--replicaof', '127.0.0.1', String(primary.port)]);
    probe = new Redis(primary.url);
    await replicasOnline(probe, 1);
    gw = await startGateway({ prefix: uniquePrefix('replica-ack'), workers: false, env: { REDIS_URL: primary.url, REDIS_MIN_REPLICAS_ACK: '1', REDIS_REPLICA_ACK_TIMEOUT_MS: '300', ENQUEUE_TIMEOUT_MS: '1500' } });
  });

  afterAll(async () => {
    await gw.close();
    await probe.quit();
    await replica.destroy();
    await primary.destroy();
  });

  it('answers 202 while the replica follows, and the replica has the job when it does', async () => {
    const res = await post(referral());
    expect(res.status).toBe(202);
    firstJobId = `m-${res.body.reference as string}`;
    const copy = new Redis(replica.url);
    try {
      // Read from the replica itself: WAIT returned, so the job is there already, not eventually.
      expect(await copy.exists(`${gw.config.QUEUE_PREFIX}:intake:${firstJobId}`)).toBe(1);
    } finally {
      await copy.quit();
    }
  });

  it('answers 503 when no replica acknowledges in time; the stored job is kept, and the retry once the replica is back is the same reference as a duplicate', async () => {
    await replica.stop('SIGKILL');
    await replicasOnline(probe, 0);
    const body = referral();
    const refused = await post(body);
    expect(refused.status).toBe(503);
    expect(refused.body.error.code).toBe('unavailable');
    expect(JSON.stringify(refused.body)).not.toContain(URN);
    // Stored on the primary before the WAIT: the job is there and may run.
    const stored = (await gw.queue.getJobs(['waiting', 'prioritized', 'delayed'])).map((j) => j.id).filter((id) => id !== firstJobId);
    expect(stored).toHaveLength(1);

    await replica.boot();
    await replicasOnline(probe, 1);
    const retried = await post(body);
    expect(retried.status).toBe(202);
    expect(retried.body.duplicate).toBe(true);
    expect(`m-${retried.body.reference as string}`).toBe(stored[0]);
  });

  it('logs none of the personal data it was sent', () => {
    expectNoPersonalData(gw.logs.text, [URN, '250788456456', WORDS]);
  });
});
