import type { RedisConnection } from '../queues/connection';
import { gatewayKey } from './keys';
import { LuaScript } from './lua-script';

/** The idempotency ledger's entry for a hashed idempotency key (IdentifierHasher.deduplicationId). */
export const ledgerEntryKey = (prefix: string, hashedKey: string) => gatewayKey(prefix, 'accepted', hashedKey);

/**
 * What the entry says of a follow-up's note: in the record; refused by Primero (so certainly not in it); perhaps in
 * it (a PATCH went out and may have landed); none sent; or nothing known.
 */
export type NoteProgress = 'noted' | 'refused' | 'sent' | 'none' | 'unknown';

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

// Marks on the entry of this job's own acceptance (ARGV[1]): an HSET on an expired entry would leave a hash with no
// TTL, and one on a later acceptance's entry (a resend after the window re-claimed the key) would speak for its job.
// ARGV[2] is set to ARGV[3] ('' sets nothing), then ARGV[4..] are deleted, in one step: no reader sees half of it.
const MARK_ON_ENTRY = new LuaScript(`
if redis.call('HGET', KEYS[1], 'acceptance') ~= ARGV[1] then return 0 end
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], ARGV[2], ARGV[3]) end
for i = 4, #ARGV do redis.call('HDEL', KEYS[1], ARGV[i]) end
return 1
`);

/**
 * A follow-up's note and its target record, on the ledger entry: `noteSent` (naming the record) before each PATCH
 * carrying the note (a crash or a timeout after it may leave the note in the record unrecorded), taken back when the PATCH failed in a way
 * that cannot have reached Primero; `noteRefused` when Primero answered the PATCH 403 or 404 (nothing written: the
 * job files the words alone from then on); `noted` once Primero holds it. Read before a retry would file the same
 * words as a case of their own (link gone, record now 403 or 404). All live and die with the entry
 * (IDEMPOTENCY_WINDOW_HOURS); an entry already gone is not recreated. Each call names the job's `acceptanceId`
 * (InboundMessage.acceptanceId): the entry's marks are read and written for that acceptance only.
 */
export class FollowUpNotes {
  constructor(
    private readonly redis: RedisConnection,
    private readonly prefix: string,
  ) {}

  async markSent(idempotencyKey: string, acceptanceId: string | null, target: NoteTarget): Promise<void> {
    await this.mark(idempotencyKey, acceptanceId, 'noteSent', JSON.stringify(target));
  }

  /** The record the note may have gone to; null when the entry names none this job can read (gone, another acceptance's). */
  async sentTo(idempotencyKey: string, acceptanceId: string | null): Promise<NoteTarget | null> {
    const [acceptance, sent] = await this.redis.hmget(ledgerEntryKey(this.prefix, idempotencyKey), 'acceptance', 'noteSent');
    return acceptance && acceptance === acceptanceId ? targetOf(sent ?? null) : null;
  }

  /** The PATCH never reached Primero (a connection never made, or a 4xx): nothing of it can land later. */
  async unmarkSent(idempotencyKey: string, acceptanceId: string | null): Promise<void> {
    await this.mark(idempotencyKey, acceptanceId, '', '', 'noteSent');
  }

  async markRefused(idempotencyKey: string, acceptanceId: string | null): Promise<void> {
    await this.mark(idempotencyKey, acceptanceId, 'noteRefused', '1', 'noteSent');
  }

  async markNoted(idempotencyKey: string, acceptanceId: string | null): Promise<void> {
    await this.mark(idempotencyKey, acceptanceId, 'noted', '1');
  }

  /**
   * `unknown`: nothing says what this job sent. The entry is gone with its window (a dead letter replayed days later),
   * or it names another acceptance (a resend after the window re-claimed the key; its marks are that job's), or the
   * job predates acceptance ids.
   */
  async progress(idempotencyKey: string, acceptanceId: string | null): Promise<NoteProgress> {
    const [acceptance, noted, refused, sent] = await this.redis.hmget(ledgerEntryKey(this.prefix, idempotencyKey), 'acceptance', 'noted', 'noteRefused', 'noteSent');
    if (!acceptance || acceptance !== acceptanceId) return 'unknown';
    return noted === '1' ? 'noted' : refused === '1' ? 'refused' : sent ? 'sent' : 'none';
  }

  private async mark(idempotencyKey: string, acceptanceId: string | null, field: string, value: string, ...del: string[]): Promise<void> {
    await MARK_ON_ENTRY.run(this.redis, [ledgerEntryKey(this.prefix, idempotencyKey)], [acceptanceId ?? '', field, value, ...del]);
  }
}
