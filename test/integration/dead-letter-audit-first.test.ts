import { Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import { DeadLetters } from '../../src/admin/dead-letters';
import { createRedis } from '../../src/queues/connection';
import { codecFromConfig } from '../../src/security/codec-from-config';
import { AuditLog } from '../../src/store/audit';
import { deleteByPrefix, gatewayKey } from '../../src/store/keys';
import { SendClaims } from '../../src/store/send-claims';
import { TraceStore } from '../../src/store/trace';
import { eventually } from '../support/eventually';
import { TEST_REDIS_URL, testConfig, uniquePrefix } from '../support/gateway';

/**
 * An operator's resend or replay can send a message to a person: it must never happen with no audit entry of who
 * did it. Here the audit write fails (a Redis hiccup on its key) and the dead letter must stay where it is.
 */
describe('a resend or replay whose audit entry cannot be written sends nothing', () => {
  const prefix = uniquePrefix('audit-first');
  const redis = createRedis(TEST_REDIS_URL, 'worker');
  const workerRedis = createRedis(TEST_REDIS_URL, 'worker');
  const queue = new Queue('letters', { connection: redis, prefix });
  const audit = new AuditLog(redis, prefix);
  type Entry = Parameters<AuditLog['record']>[0];
  /** Which audit writes fail; and what else happens once an entry is written (another operator acting meanwhile). */
  let refused: (entry: Entry) => boolean = () => false;
  let afterWrite: (entry: Entry) => Promise<void> = async () => undefined;
  const auditDown = () => (refused = () => true);
  const flaky = {
    record: async (entry: Entry) => {
      if (refused(entry)) throw new Error('audit write refused');
      await audit.record(entry);
      await afterWrite(entry);
    },
  } as unknown as AuditLog;
  let letters: DeadLetters;
  let worker: Worker;

  /** A dead letter whose job failed for good with `reason` ("not sent again…" is how a not confirmed one reads). */
  const deadLetter = async (jobId: string, reason: string): Promise<string> => {
    await queue.add('m', { reason }, { jobId });
    await eventually(async () => (await queue.getJobState(jobId)) === 'failed');
    return `letters.${jobId}`;
  };

  beforeAll(async () => {
    worker = new Worker('letters', async (job): Promise<void> => { throw new UnrecoverableError((job.data as { reason: string }).reason); }, { connection: workerRedis, prefix });
    letters = new DeadLetters([queue], codecFromConfig(testConfig(prefix)), flaky, new TraceStore(redis, prefix, 1), new SendClaims(redis));
  });

  beforeEach(async () => {
    refused = () => false;
    afterWrite = async () => undefined;
    await redis.del(gatewayKey(prefix, 'audit'));
  });

  // Each test pauses the worker to look at a job it moved back; the next needs it running to make its dead letters.
  afterEach(() => worker.resume());

  afterAll(async () => {
    await worker.close();
    await queue.close();
    await deleteByPrefix(redis, prefix);
    await Promise.all([redis.quit(), workerRedis.quit()]);
  });

  it('a resend stays a dead letter when its audit entry fails, and goes once the entry is written', async () => {
    const id = await deadLetter('held', 'not sent again, it may have gone out (WhatsApp did not answer)');
    await worker.pause();
    auditDown();
    await expect(letters.resend(id, 'it.officer', 'no sent status from Meta')).rejects.toThrow('audit write refused');
    expect(await queue.getJobState('held')).toBe('failed');
    expect(await audit.recent(10)).toEqual([]);

    refused = () => false;
    expect(await letters.resend(id, 'it.officer', 'no sent status from Meta')).toMatchObject({ id });
    expect(await queue.getJobState('held')).toBe('waiting');
    expect(await audit.recent(10)).toEqual([expect.objectContaining({ actor: 'it.officer', action: 'dead_letter.resend', target: id })]);
  });

  it('a replay alone stays a dead letter when its audit entry fails, and is on record once it goes', async () => {
    const one = await deadLetter('alone', 'Primero rejected the case (422)');
    await worker.pause();
    auditDown();
    await expect(letters.replay(one, 'ops')).rejects.toThrow('audit write refused');
    expect(await queue.getJobState('alone')).toBe('failed');

    refused = () => false;
    expect(await letters.replay(one, 'ops')).toMatchObject({ id: one });
    expect(await queue.getJobState('alone')).toBe('waiting');
    expect(await audit.recent(10)).toEqual([expect.objectContaining({ actor: 'ops', action: 'dead_letter.replay', target: one })]);
  });

  it('a set whose per-id entries fail moves none of them, and its own entry says both failed', async () => {
    const one = await deadLetter('one', 'Primero rejected the case (422)');
    const two = await deadLetter('two', 'Primero rejected the case (422)');
    await worker.pause();
    refused = (entry) => entry.action === 'dead_letter.replay';
    const outcome = await letters.replayIds([one, two], 'ops', { queue: 'letters' });
    expect(outcome.failed).toEqual([one, two]);
    expect(outcome.replayed).toBe(0);
    expect([await queue.getJobState('one'), await queue.getJobState('two')]).toEqual(['failed', 'failed']);
    expect(await audit.recent(10)).toEqual([expect.objectContaining({ actor: 'ops', action: 'dead_letter.replay_matching', detail: expect.objectContaining({ count: 0, counted: 2, failed: 2 }) })]);

    refused = () => false;
    expect((await letters.replayIds([one, two], 'ops', { queue: 'letters' })).replayed).toBe(2);
    const entries = await audit.recent(10);
    expect(entries.filter((e) => e.action === 'dead_letter.replay').map((e) => e.target).sort()).toEqual([one, two]);
    expect(entries[0]).toMatchObject({ action: 'dead_letter.replay_matching', detail: expect.objectContaining({ count: 2, failed: 0 }) });
  });

  it('a replay that loses a race with a discard is on record as not done, and answers as before', async () => {
    const id = await deadLetter('raced', 'Primero rejected the case (422)');
    await worker.pause();
    // A second operator discards it between this replay's entry and its move.
    afterWrite = async (entry) => {
      if (entry.action === 'dead_letter.replay') await (await queue.getJob('raced'))?.remove();
    };
    await expect(letters.replay(id, 'ops')).rejects.toThrow();
    expect((await audit.recent(10)).map((e) => [e.action, e.target])).toEqual([
      ['dead_letter.replay_not_done', id],
      ['dead_letter.replay', id],
    ]);
  });

  it('a resend that loses a race with a discard is on record as not done', async () => {
    const id = await deadLetter('raced-resend', 'not sent again, it may have gone out (WhatsApp did not answer)');
    await worker.pause();
    afterWrite = async (entry) => {
      if (entry.action === 'dead_letter.resend') await (await queue.getJob('raced-resend'))?.remove();
    };
    await expect(letters.resend(id, 'it.officer', 'no sent status from Meta')).rejects.toThrow();
    expect((await audit.recent(10)).map((e) => e.action)).toEqual(['dead_letter.resend_not_done', 'dead_letter.resend']);
  });

  it('a replay whose move landed but whose answer was lost is on record as unconfirmed, not as not done', async () => {
    const id = await deadLetter('lost-reply', 'Primero rejected the case (422)');
    await worker.pause();
    // The move runs in Redis; its reply never reaches the gateway (a connection dropped after the write).
    const retry = Job.prototype.retry;
    const lost = jest.spyOn(Job.prototype, 'retry').mockImplementation(async function (this: Job, ...args: Parameters<Job['retry']>) {
      await retry.apply(this, args);
      throw new Error('Connection is closed.');
    });
    try {
      await expect(letters.replay(id, 'ops')).rejects.toThrow('Connection is closed.');
    } finally {
      lost.mockRestore();
    }
    expect(await queue.getJobState('lost-reply')).toBe('waiting');
    expect((await audit.recent(10)).map((e) => [e.action, e.target])).toEqual([
      ['dead_letter.replay_unconfirmed', id],
      ['dead_letter.replay', id],
    ]);
  });
});
