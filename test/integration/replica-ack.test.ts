import request from 'supertest';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { startGateway, uniquePrefix, WEBHOOK_TOKEN, type Gateway } from '../support/gateway';
import { eventually } from '../support/eventually';
import { expectNoPersonalData } from '../support/personal-data';
import { PrivateRedis } from '../../demo/sandbox/redis-server';
import { rapidProIdempotencyKey, rapidProWebhookSchema } from '../../src/channels/rapidpro/parse';
import { AcceptanceLedger } from '../../src/store/acceptances';
import { gatewayKey } from '../../src/store/keys';
import { QueueUnavailableError, ReplicationUnconfirmedError } from '../../src/queues/deadline';
import type { UnreferencedMessage } from '../../src/domain/inbound-message';
import type { IntakeOptions } from '../../src/queues/intake';

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

async function pidOf(server: PrivateRedis): Promise<number> {
  const copy = new Redis(server.url);
  try {
    return Number(/process_id:(\d+)/.exec(await copy.info('server'))?.[1]);
  } finally {
    await copy.quit();
  }
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

  it('answers a true 503 when no replica acknowledges in time: the acceptance is never confirmed, so no worker acts on its job, and the retry once the replica is back is a fresh acceptance', async () => {
    // Frozen: still online as far as the primary knows, but acknowledging nothing.
    const pid = await pidOf(replica);
    process.kill(pid, 'SIGSTOP');
    const body = referral();
    let refused;
    try {
      refused = await post(body);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    expect(refused.status).toBe(503);
    expect(refused.body.error.code).toBe('unavailable');
    expect(refused.body.error.message).toContain('nothing was stored');
    expect(JSON.stringify(refused.body)).not.toContain(URN);
    // The add landed before the WAIT, but its acceptance was never confirmed: past its window a worker's first
    // look withdraws it, so the job is skipped.
    const hashed = gw.services.hasher.deduplicationId(rapidProIdempotencyKey('referral', rapidProWebhookSchema.parse(body)));
    const entry = await probe.hgetall(gatewayKey(gw.config.QUEUE_PREFIX, 'accepted', hashed));
    expect(entry.stored).toBeUndefined();
    const ledger = new AcceptanceLedger(gw.redis, gw.config.QUEUE_PREFIX, 3600);
    await eventually(async () => (await ledger.begin(hashed, entry.acceptance!)) === 'withdrawn', 5000, 'the unconfirmed acceptance withdrawn');

    const retried = await post(body);
    expect(retried.status).toBe(202);
    expect(retried.body.duplicate).toBe(false);
    expect(retried.body.reference).not.toBe(entry.reference);
  });

  it('answers an honest 503 when the replicas stop between the confirmation and its own WAIT: the message may be stored, and the retry answers its reference', async () => {
    const opts = (gw.services.producer as unknown as { opts: IntakeOptions }).opts;
    const real = opts.replicaAck!;
    // The WAIT before the confirmation is met, the one after it is not (the replica died between the two).
    opts.replicaAck = {
      begin: async (deadlineAt) => {
        const wait = await real.begin(deadlineAt);
        let calls = 0;
        return async () => {
          await wait();
          if (++calls > 1) throw new QueueUnavailableError('0 of 1 replicas acknowledged');
        };
      },
    };
    const body = referral();
    let refused;
    try {
      refused = await post(body);
    } finally {
      opts.replicaAck = real;
    }
    expect(refused.status).toBe(503);
    expect(refused.body.error.message).not.toContain('nothing was stored');
    expect(refused.body.error.message).toContain('may be stored');
    expect(gw.logs.text).toContain('message stored, replication unconfirmed');
    const retried = await post(body);
    expect(retried.status).toBe(202);
    expect(retried.body.duplicate).toBe(true);
    const hashed = gw.services.hasher.deduplicationId(rapidProIdempotencyKey('referral', rapidProWebhookSchema.parse(body)));
    expect((await probe.hgetall(gatewayKey(gw.config.QUEUE_PREFIX, 'accepted', hashed))).stored).toBe('1');
  });

  it('does not count an ack from a reconnected connection: WAIT there vouches for none of the writes made before', async () => {
    const replicated = await gw.services.producer['opts'].replicaAck!.begin(Date.now() + 1000);
    await gw.redis.set(gatewayKey(gw.config.QUEUE_PREFIX, 'written-before'), '1', 'EX', 60);
    const reconnected = new Promise((resolve) => gw.redis.once('ready', resolve));
    gw.redis.disconnect(true);
    await reconnected;
    await expect(replicated()).rejects.toThrow('the Redis connection changed');
  });

  it("a duplicate's 2xx waits until a replica holds the verdict it answers from, also when this connection never wrote it", async () => {
    // Straight to the producer: a route's own writes before it (sightings, counters) would cover the verdict by chance.
    const message = { v: 1, intent: 'referral', channel: 'rapidpro', idempotencyKey: `dup-${randomUUID()}`, urn: URN, contactUuid: null, language: null, text: WORDS, attachments: [], results: {}, flowUuid: null, receivedAt: new Date().toISOString(), simulation: false } as UnreferencedMessage;
    const hashed = gw.services.hasher.deduplicationId(message.idempotencyKey);
    // This connection's own last writes (a reference block, an acceptance) are replicated before the freeze.
    expect((await gw.services.producer.accept({ ...message, idempotencyKey: `dup-${randomUUID()}` })).duplicate).toBe(false);
    const pid = await pidOf(replica);
    // Another API process stored the acceptance while the replica was frozen: the verdict is on the primary only.
    process.kill(pid, 'SIGSTOP');
    try {
      const other = new AcceptanceLedger(probe, gw.config.QUEUE_PREFIX, 3600);
      const { acceptance } = await other.claim(hashed, 'DUPW2345', randomUUID(), 60_000);
      expect(await other.markStored(hashed, acceptance.acceptanceId)).toBe('stored');
      await expect(gw.services.producer.accept(message)).rejects.toThrow(ReplicationUnconfirmedError);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    // A WAIT that fell short is trusted for 100 ms: the retry succeeds once the replica has caught up after that.
    let again: unknown;
    await eventually(async () => (again = await gw.services.producer.accept(message).catch(() => undefined)) !== undefined, 5000, 'the duplicate answered');
    expect(again).toMatchObject({ duplicate: true, reference: 'DUPW2345' });
  });

  it('one WAIT at a time per connection: while replicas lag, readiness is not held behind a queue of WAITs', async () => {
    const pid = await pidOf(replica);
    process.kill(pid, 'SIGSTOP');
    let answers;
    let ready;
    try {
      // `.then` sends them now (supertest sends a request only once it is awaited).
      const posts = Array.from({ length: 16 }, () => post(referral()).then((r) => r));
      // The posts' WAITs are sent by now (each would block the connection up to 300 ms).
      await new Promise((r) => setTimeout(r, 200));
      ready = await request(gw.app).get('/readyz');
      answers = await Promise.all(posts);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    expect(ready.status).toBe(200);
    expect(answers.map((a) => a.status)).toEqual(Array(16).fill(503));
  });

  it('answers 503 before writing anything when fewer replicas are online than required', async () => {
    await replica.stop('SIGKILL');
    await replicasOnline(probe, 0);
    const jobsBefore = await gw.queue.getJobCounts();
    const body = referral();
    const refused = await post(body);
    expect(refused.status).toBe(503);
    expect(refused.body.error.message).toContain('nothing was stored');
    const hashed = gw.services.hasher.deduplicationId(rapidProIdempotencyKey('referral', rapidProWebhookSchema.parse(body)));
    expect(await probe.exists(gatewayKey(gw.config.QUEUE_PREFIX, 'accepted', hashed))).toBe(0);
    expect(await gw.queue.getJobCounts()).toEqual(jobsBefore);
  });

  it('logs none of the personal data it was sent', () => {
    expectNoPersonalData(gw.logs.text, [URN, '250788456456', WORDS]);
  });
});
