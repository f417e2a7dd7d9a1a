import type { RedisConnection } from '../queues/connection';
import { gatewayKey } from './keys';
import { JobGoneError } from './send-claims';
import { LuaScript } from './lua-script';

/** The idempotency ledger's entry for a hashed idempotency key (IdentifierHasher.deduplicationId). */
export const ledgerEntryKey = (prefix: string, hashedKey: string) => gatewayKey(prefix, 'accepted', hashedKey);

/**
 * What the marks say of a follow-up's note: its words set out to be filed as a record of their own (never a note from
 * then on); in the record; refused by Primero (so certainly not in it); perhaps in it (a PATCH went out and may have
 * landed); none sent; or nothing known.
 */
export type NoteState = 'alone' | 'noted' | 'refused' | 'sent' | 'none' | 'unknown';

/** The state, the record the note may have gone to (null when no mark names one), and, when `alone`, how it was protected. */
export interface NoteProgress {
  state: NoteState;
  sentTo: NoteTarget | null;
  /** With `alone`: whether the record of its own was to be protected as sensitive (as the record its note was meant for). */
  aloneSensitive: boolean;
}

/** The record a PATCH of the note went to, kept with `noteSent` (ids, no personal data): a retry whose link is gone reads it. */
export interface NoteTarget {
  recordType: 'case' | 'incident';
  recordId: string;
  subform: string;
  sensitive: boolean;
}

function targetOf(kept: string | null): NoteTarget | null {
  try {
    const t = JSON.parse(kept ?? '') as Partial<NoteTarget> | null;
    const known = (t?.recordType === 'case' || t?.recordType === 'incident') && typeof t.recordId === 'string' && typeof t.subform === 'string';
    return known ? { recordType: t.recordType!, recordId: t.recordId!, subform: t.subform!, sensitive: t.sensitive === true } : null;
  } catch {
    return null;
  }
}

/** Whose marks: the follow-up's job (BullMQ's hash, `jobKey`) and its acceptance's entry in the idempotency ledger. */
export interface NoteJob {
  jobKey: string;
  idempotencyKey: string;
  /** InboundMessage.acceptanceId: null for a job that predates acceptance ids (the ledger's marks are then not read). */
  acceptanceId: string | null;
}

// KEYS[1] the job's hash, KEYS[2] the ledger entry (both under the tagged prefix: one slot). A job hash that is gone is
// never re-created (nothing would delete it): -1, and the caller sends nothing. ARGV[2] is set to ARGV[3] ('' sets
// nothing), then ARGV[4..] are deleted, in one step on both: no reader sees half of it. On the job they are `gw:<name>`.
// The entry is written too, only while it is this job's own acceptance's (an HSET on an expired entry would leave a
// hash with no TTL; on a later acceptance's it would speak for that job): a worker of the build before reads it there.
const MARK = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'gw:' .. ARGV[2], ARGV[3]) end
for i = 4, #ARGV do redis.call('HDEL', KEYS[1], 'gw:' .. ARGV[i]) end
if ARGV[1] == '' or redis.call('HGET', KEYS[2], 'acceptance') ~= ARGV[1] then return 1 end
if ARGV[2] ~= '' then redis.call('HSET', KEYS[2], ARGV[2], ARGV[3]) end
for i = 4, #ARGV do redis.call('HDEL', KEYS[2], ARGV[i]) end
return 1
`);

const FIELDS = ['noteAlone', 'noted', 'noteRefused', 'noteSent'] as const;
type Marks = Partial<Record<(typeof FIELDS)[number], string>>;

/**
 * A follow-up's note and its target record: `noteSent` (naming the record) before each PATCH carrying the note (a
 * crash or a timeout after it may leave the note in the record unrecorded), taken back when the PATCH failed in a way
 * that cannot have reached Primero; `noteRefused` when Primero answered the PATCH 403 or 404 (nothing written: the
 * job files the words alone from then on); `noteAlone` before the words are filed as a record of their own, with how
 * sensitive it is to be; `noted` once Primero holds it. Read before a retry would file the same
 * words as a case of their own (link gone, record now 403 or 404).
 *
 * Kept in fields of the job's own hash, as send claims are (src/store/send-claims.ts): they live exactly as long as
 * the job, so a dead letter replayed after IDEMPOTENCY_WINDOW_HOURS still knows its note may be in the record. Also
 * written to the ledger entry, where the build before kept them; each mark is read from the job, or from the entry
 * when the job lacks it (a job that build began), and only for the job's own acceptance. A job removed while it ran
 * (JobGoneError) gets no mark, so a PATCH never goes out unmarked; after a PATCH, the error ends the attempt.
 */
export class FollowUpNotes {
  constructor(
    private readonly redis: RedisConnection,
    private readonly prefix: string,
  ) {}

  async markSent(job: NoteJob, target: NoteTarget): Promise<void> {
    await this.mark(job, 'noteSent', JSON.stringify(target));
  }


  /** The PATCH never reached Primero (a connection never made, or a 4xx): nothing of it can land later. */
  async unmarkSent(job: NoteJob): Promise<void> {
    await this.mark(job, '', '', 'noteSent');
  }

  async markRefused(job: NoteJob): Promise<void> {
    await this.mark(job, 'noteRefused', '1', 'noteSent');
  }

  /** The note is in the record: also over a filing alone that an earlier attempt set out on (a late PATCH landed). */
  async markNoted(job: NoteJob): Promise<void> {
    await this.mark(job, 'noted', '1', 'noteAlone');
  }

  /**
   * Before the words are filed as a record of their own: from then on every retry and replay files them alone (as
   * sensitive as kept here), however late, and never adds them to a record as a note, even once the message's own
   * link is gone with REFERENCE_RETENTION_DAYS and a link under the record's reference leads somewhere again.
   */
  async markFiledAlone(job: NoteJob, sensitive: boolean): Promise<void> {
    await this.mark(job, 'noteAlone', sensitive ? 'sensitive' : 'ordinary');
  }

  /**
   * `unknown`: nothing says what was sent. The job holds no mark and its acceptance's entry is gone with its window
   * or names another acceptance (a resend after the window re-claimed the key), or the job predates acceptance ids:
   * a build before this one may have sent the note and kept its marks only on that entry.
   */
  async progress(job: NoteJob): Promise<NoteProgress> {
    const { own, entry } = await this.read(job);
    // Either place may speak for an attempt: one of the build before wrote the entry only.
    const either = (f: (typeof FIELDS)[number]) => own[f] ?? entry?.[f];
    const sentTo = targetOf(own.noteSent ?? null) ?? targetOf(entry?.noteSent ?? null);
    const alone = either('noteAlone');
    const state: NoteState = alone ? 'alone' : either('noted') === '1' ? 'noted' : either('noteRefused') === '1' ? 'refused' : either('noteSent') ? 'sent' : entry ? 'none' : 'unknown';
    // Anything but the ordinary word is taken as sensitive: a mark that cannot be read protects the words.
    return { state, sentTo, aloneSensitive: alone !== undefined && alone !== 'ordinary' };
  }

  /** The job's marks, and its acceptance's entry's (null when the entry is not this acceptance's). One round trip. */
  private async read(job: NoteJob): Promise<{ own: Marks; entry: Marks | null }> {
    const replies = await this.redis
      .multi()
      .hmget(job.jobKey, ...FIELDS.map((f) => `gw:${f}`))
      .hmget(ledgerEntryKey(this.prefix, job.idempotencyKey), 'acceptance', ...FIELDS)
      .exec();
    const failure = replies?.find(([err]) => err)?.[0];
    if (!replies || failure) throw failure ?? new Error('the follow-up note marks could not be read');
    const [ownValues, entryValues] = replies.map(([, values]) => values as Array<string | null>) as [Array<string | null>, Array<string | null>];
    const marksOf = (values: Array<string | null>): Marks => Object.fromEntries(FIELDS.map((f, i) => [f, values[i] ?? undefined]).filter(([, v]) => v !== undefined));
    const [acceptance, ...entryMarks] = entryValues;
    const ours = !!job.acceptanceId && acceptance === job.acceptanceId;
    return { own: marksOf(ownValues), entry: ours ? marksOf(entryMarks) : null };
  }

  private async mark(job: NoteJob, field: string, value: string, ...del: string[]): Promise<void> {
    const done = await MARK.run(this.redis, [job.jobKey, ledgerEntryKey(this.prefix, job.idempotencyKey)], [job.acceptanceId ?? '', field, value, ...del]);
    if (done === -1) throw new JobGoneError();
  }
}
