import { SendClaims } from '../../src/store/send-claims';
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import { DeadLetters } from '../../src/admin/dead-letters';
import { createRedis } from '../../src/queues/connection';
import { codecFromConfig } from '../../src/security/codec-from-config';
import { AuditLog } from '../../src/store/audit';
import { deleteByPrefix } from '../../src/store/keys';
import { ReplayBatches } from '../../src/store/replay-batches';
import { TraceStore } from '../../src/store/trace';
import { eventually } from '../support/eventually';
import { TEST_REDIS_URL, testConfig, uniquePrefix } from '../support/gateway';

/** A queue whose every read fails, as one does when Redis refuses a command mid-set. */
const broken = { name: 'broken', getJob: () => Promise.reject(new Error('connection lost')) } as unknown as Queue;

describe('replaying a set of dead letters by id (the console confirmation of a dry run)', () => {
  const prefix = uniquePrefix('replay-ids');
  const redis = createRedis(TEST_REDIS_URL, 'worker');
  const workerRedis = createRedis(TEST_REDIS_URL, 'worker');
  const queue = new Queue('letters', { connection: redis, prefix });
  let worker: Worker;

  beforeAll(async () => {
    worker = new Worker('letters', async (): Promise<void> => { throw new UnrecoverableError('refused'); }, { connection: workerRedis, prefix, autorun: false });
  });

  afterAll(async () => {
    await worker?.close();
    await queue.close();
    await deleteByPrefix(redis, prefix);
    await Promise.all([redis.quit(), workerRedis.quit()]);
  });

  it('replays those still dead, skips one gone, goes on past one that fails, and audits the set once', async () => {
    const job = await queue.add('m', { n: 1 }, { jobId: 'one' });
    void worker.run();
    await eventually(async () => (await job.getState()) === 'failed');
    await worker.pause();
    const config = testConfig(prefix);
    const audit = new AuditLog(redis, prefix);
    const letters = new DeadLetters([queue, broken], codecFromConfig(config), audit, new TraceStore(redis, prefix, 1), new SendClaims(redis));
    const settled: string[] = [];
    const outcome = await letters.replayIds(['broken.x', 'letters.one', 'letters.never-was'], 'ops', { queue: 'letters' }, async (id) => void settled.push(id));
    expect(outcome).toEqual({ replayed: 1, gone: 1, failed: ['broken.x'], notConfirmed: [] });
    // Only the failed one is left for a second run.
    expect(settled).toEqual(['letters.one', 'letters.never-was']);
    expect(await queue.getJobState('one')).toBe('waiting');
    const entries = await audit.recent(5);
    expect(entries.filter((e) => e.action === 'dead_letter.replay_matching')).toEqual([expect.objectContaining({ actor: 'ops', detail: { count: 1, counted: 3, gone: 1, failed: 1, not_confirmed: 0 } })]);
  });

  it('keeps a counted batch for its confirmation: one walker at a time, the settled ids out, all gone at its end', async () => {
    const batches = new ReplayBatches(redis, prefix);
    const id = await batches.keep({ filter: { queue: 'letters' }, ids: ['letters.a', 'letters.b', 'letters.c'] });
    const lease = await batches.lease(id);
    expect(lease).not.toBeNull();
    expect(await batches.lease(id)).toBeNull();
    await batches.settle(id, 'letters.b');
    expect(await batches.get(id)).toEqual({ filter: { queue: 'letters' }, counted: 3, pending: ['letters.a', 'letters.c'] });
    await batches.release(id, lease!);
    expect(await batches.lease(id)).not.toBeNull();
    expect(await redis.keys(`${prefix}:*console-replay-batch*`)).toHaveLength(3);
    await batches.end(id);
    expect(await batches.get(id)).toBeNull();
    expect(await redis.keys(`${prefix}:*console-replay-batch*`)).toEqual([]);
  });
});
