import { Queue, UnrecoverableError, type Job } from 'bullmq';
import { DeliveryError } from '../../src/clients/delivery-error';
import { createLogger } from '../../src/logger';
import { createRedis } from '../../src/queues/connection';
import { sendOnce, type SendOnceDeps } from '../../src/replies/send-once';
import { SharedCounters } from '../../src/store/counters';
import { deleteByPrefix } from '../../src/store/keys';
import { JobGoneError, SendClaims } from '../../src/store/send-claims';
import { TraceStore } from '../../src/store/trace';
import { LogCapture, TEST_REDIS_URL, uniquePrefix } from '../support/gateway';

/**
 * What a second attempt of the same job does, whatever ended the first: a worker that died after the send (or
 * before learning its outcome), a retry, a replay. Each attempt is a call of sendOnce with the job as BullMQ hands
 * it back; `sends` counts what reached the provider.
 */
describe('a message to a person: at most once per job', () => {
  const prefix = uniquePrefix('send-once');
  const redis = createRedis(TEST_REDIS_URL, 'worker');
  const queue = new Queue('whatsapp-replies', { connection: redis, prefix });
  const logs = new LogCapture();
  const deps: SendOnceDeps = {
    claims: new SendClaims(redis),
    counters: new SharedCounters(redis, prefix),
    trace: new TraceStore(redis, prefix, 1),
    logger: createLogger('debug', logs),
  };
  let n = 0;
  const newJob = async (): Promise<Job> => {
    n++;
    return (await queue.add('reply', { reference: `K7M2P9R${n}` }, { deduplication: { id: `keyed-hash-${n}`, ttl: 60_000 } }))!;
  };
  const again = async (job: Job): Promise<Job> => (await queue.getJob(job.id!))!;
  let sends = 0;
  const send = () => Promise.resolve(sends++);
  const lost = () => Promise.reject(new DeliveryError('WhatsApp', 'transient', null, 'WhatsApp did not answer the WhatsApp message (ECONNRESET)', null, { is: 'maybe_sent' }));
  const refused = () => Promise.reject(new DeliveryError('WhatsApp', 'permanent', 400, 'WhatsApp rejected the WhatsApp message (400)'));

  /** As weeks passing look to Redis: every key with a TTL is gone; the jobs (dead letters keep no TTL) remain. */
  const letTimePass = async () => {
    for (const key of await redis.keys(`${prefix}:*`)) if ((await redis.pttl(key)) > 0) await redis.pexpire(key, 1);
    await new Promise((resolve) => setTimeout(resolve, 10));
  };

  beforeEach(() => {
    sends = 0;
  });

  afterAll(async () => {
    await queue.close();
    await deleteByPrefix(redis, prefix);
    await redis.quit();
  });

  it('does not send again after a send that went out (the worker died before finishing the job)', async () => {
    const job = await newJob();
    expect(await sendOnce(deps, job, 'K7M2P9R1', send)).toBe('sent');
    expect(await sendOnce(deps, await again(job), 'K7M2P9R1', send)).toBe('already-sent');
    expect(sends).toBe(1);
  });

  it('settles as not confirmed, without sending, after an attempt that began the send and never learnt its outcome', async () => {
    const job = await newJob();
    await expect(sendOnce(deps, job, 'K7M2P9R2', lost)).rejects.toThrow(UnrecoverableError);
    await expect(sendOnce(deps, await again(job), 'K7M2P9R2', send)).rejects.toThrow(/not sent again, it may have gone out: an earlier attempt began the send/);
    expect(sends).toBe(0);
    expect(JSON.stringify(await deps.trace.timeline('K7M2P9R2'))).toContain('message_not_confirmed');
  });

  it('sends on the next attempt after a refusal, which proves nothing went out', async () => {
    const job = await newJob();
    await expect(sendOnce(deps, job, 'K7M2P9R3', refused)).rejects.toThrow(DeliveryError);
    expect(await sendOnce(deps, await again(job), 'K7M2P9R3', send)).toBe('sent');
    expect(sends).toBe(1);
  });

  it('lets another job for the same message decide for itself (deduplication, not the claim, stops a second job)', async () => {
    const first = await newJob();
    await expect(sendOnce(deps, first, 'K7M2P9R4', lost)).rejects.toThrow(UnrecoverableError);
    const second = (await queue.add('reply', { reference: 'K7M2P9R4' }, { jobId: 'another-job' }))!;
    expect(await sendOnce(deps, second, 'K7M2P9R4', send)).toBe('sent');
    expect(sends).toBe(1);
  });

  it('reads a claim sent twice by the same attempt (its reply lost, ioredis sent it again) as its own, not as an earlier attempt', async () => {
    const job = await newJob();
    expect(await deps.claims.claim(job, 'attempt-token-1')).toBeNull();
    expect(await deps.claims.claim(job, 'attempt-token-1')).toBeNull();
    expect(await deps.claims.claim(job, 'attempt-token-2')).toMatchObject({ state: 'claimed' });
  });

  it("keeps a refusal's own error when giving the claim back fails (a 401 still pauses the queue)", async () => {
    const job = await newJob();
    const redisAway = Object.assign(Object.create(deps.claims) as SendClaims, { release: () => Promise.reject(new Error('Connection is closed.')) });
    const unauthorized = () => Promise.reject(new DeliveryError('WhatsApp', 'configuration', 401, 'WhatsApp refused our credentials or role (401) on the WhatsApp message'));
    await expect(sendOnce({ ...deps, claims: redisAway }, job, 'K7M2P9R7', unauthorized)).rejects.toMatchObject({ status: 401, kind: 'configuration' });
  });

  it('does not send again when a dead letter whose message went out is replayed weeks later (every key with a lifetime has run out)', async () => {
    const job = await newJob();
    expect(await sendOnce(deps, job, 'K7M2P9R5', send)).toBe('sent');
    await letTimePass();
    expect(await sendOnce(deps, await again(job), 'K7M2P9R5', send)).toBe('already-sent');
    expect(sends).toBe(1);
  });

  it('sends nothing and leaves no claim behind for a job removed before its send (discarded, forgotten)', async () => {
    const job = await newJob();
    const jobKey = `${job.queueQualifiedName}:${job.id}`;
    await job.remove();
    await expect(sendOnce(deps, job, 'K7M2P9R6', send)).rejects.toThrow(JobGoneError);
    expect(sends).toBe(0);
    // The claim never re-creates the job's hash: nothing would ever delete it.
    expect(await redis.exists(jobKey)).toBe(0);
  });

  it("a resend never removes the claim of an attempt under way: only a dead letter's claim is given back", async () => {
    // A second resend racing the first: the first's retry already runs and holds a claim of its own.
    const job = await newJob();
    expect(await deps.claims.claim(job, 'attempt-after-first-resend')).toBeNull();
    expect(await deps.claims.giveBack(job)).toBe('not-dead');
    expect(await deps.claims.get(job)).toEqual({ state: 'claimed', owner: 'attempt-after-first-resend' });
    await expect(sendOnce(deps, await again(job), 'K7M2P9R8', send)).rejects.toThrow(UnrecoverableError);
    expect(sends).toBe(0);
  });
});
