import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { createRedis } from '../../src/queues/connection';
import { AcceptanceLedger } from '../../src/store/acceptances';
import { ledgerEntryKey, type NoteJob, type NoteTarget } from '../../src/store/follow-up-notes';
import { jobKey } from '../../src/store/job-hash';
import { deleteByPrefix } from '../../src/store/keys';
import { JobGoneError } from '../../src/store/send-claims';
import { TEST_REDIS_URL, uniquePrefix } from '../support/gateway';

/** Where a follow-up's note marks live: the job's own hash (as long as the job), and its acceptance's ledger entry. */
describe("a follow-up's note marks", () => {
  const prefix = uniquePrefix('note-marks');
  const redis = createRedis(TEST_REDIS_URL, 'worker');
  const queue = new Queue('intake', { connection: redis, prefix });
  const ledger = new AcceptanceLedger(redis, prefix, 3600);
  const target: NoteTarget = { recordType: 'case', recordId: randomUUID(), subform: 'notes_section', sensitive: false };

  /** A follow-up job in the queue and its acceptance's entry in the ledger, as the API leaves them. */
  let references = 0;
  async function followUp(): Promise<NoteJob & { entry: string }> {
    const reference = `NM${String(++references).padStart(6, '2')}`;
    const job = await queue.add('inbound', {}, { jobId: `m-AAAA2222-${reference}` });
    const idempotencyKey = randomUUID();
    const acceptanceId = randomUUID();
    await ledger.claim(idempotencyKey, reference, acceptanceId, 5000);
    return { jobKey: jobKey(job), idempotencyKey, acceptanceId, entry: ledgerEntryKey(prefix, idempotencyKey) };
  }

  afterAll(async () => {
    await queue.close();
    await deleteByPrefix(redis, prefix);
    await redis.quit();
  });

  it('outlive the ledger entry: a job replayed after the idempotency window still says the note may be in the record, and where', async () => {
    const job = await followUp();
    await ledger.notes.markSent(job, target);
    await redis.del(job.entry);
    expect((await ledger.notes.progress(job)).state).toBe('sent');
    expect((await ledger.notes.progress(job)).sentTo).toEqual(target);
    await ledger.notes.markNoted(job);
    expect((await ledger.notes.progress(job)).state).toBe('noted');
    expect(await redis.exists(job.entry)).toBe(0);
  });

  it('are written to the entry too, for a worker of the build before, and read from it when the job holds none', async () => {
    const job = await followUp();
    await ledger.notes.markSent(job, target);
    expect(JSON.parse((await redis.hget(job.entry, 'noteSent'))!)).toEqual(target);
    await redis.hdel(job.jobKey, 'gw:noteSent');
    expect((await ledger.notes.progress(job)).state).toBe('sent');
    expect((await ledger.notes.progress(job)).sentTo).toEqual(target);
    await ledger.notes.markRefused(job);
    expect(await redis.hmget(job.entry, 'noteRefused', 'noteSent')).toEqual(['1', null]);
    expect(await redis.hmget(job.jobKey, 'gw:noteRefused', 'gw:noteSent')).toEqual(['1', null]);
    expect((await ledger.notes.progress(job)).state).toBe('refused');
  });

  it("never write to a later acceptance's entry, and read its marks as nothing known of this job", async () => {
    const job = await followUp();
    await redis.hset(job.entry, 'acceptance', randomUUID(), 'noted', '1');
    expect((await ledger.notes.progress(job)).state).toBe('unknown');
    await ledger.notes.markSent(job, target);
    expect(await redis.hget(job.entry, 'noteSent')).toBeNull();
    expect((await ledger.notes.progress(job)).state).toBe('sent');
  });

  it('say none sent while the entry is the job\'s own and holds nothing, and nothing known once it is gone', async () => {
    const job = await followUp();
    expect((await ledger.notes.progress(job)).state).toBe('none');
    await ledger.notes.markSent(job, target);
    await ledger.notes.unmarkSent(job);
    expect((await ledger.notes.progress(job)).state).toBe('none');
    await redis.del(job.entry);
    expect((await ledger.notes.progress(job)).state).toBe('unknown');
  });

  it('refuse to mark a job removed while it ran (before its PATCH, so none goes out), re-creating neither key', async () => {
    const job = await followUp();
    await redis.del(job.jobKey);
    await expect(ledger.notes.markSent(job, target)).rejects.toBeInstanceOf(JobGoneError);
    expect(await redis.exists(job.jobKey)).toBe(0);
    expect(await redis.hget(job.entry, 'noteSent')).toBeNull();
    expect(await redis.hget(job.entry, 'acceptance')).toBe(job.acceptanceId);
  });
});
