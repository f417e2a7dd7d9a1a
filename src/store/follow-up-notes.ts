import type { Redis } from 'ioredis';
import { gatewayKey } from './keys';

/** The idempotency ledger's entry for a hashed idempotency key (IdentifierHasher.deduplicationId). */
export const ledgerEntryKey = (prefix: string, hashedKey: string) => gatewayKey(prefix, 'accepted', hashedKey);

/** What the entry says of a follow-up's note: in the record, perhaps in it (a PATCH went out), none sent, or nothing known. */
export type NoteProgress = 'noted' | 'sent' | 'none' | 'unknown';

// A mark on the entry of this job's own acceptance (ARGV[1]): an HSET on an expired entry would leave a hash with no
// TTL, and one on a later acceptance's entry (a resend after the window re-claimed the key) would speak for its job.
const MARK_ON_ENTRY = `if redis.call('HGET', KEYS[1], 'acceptance') == ARGV[1] then redis.call('HSET', KEYS[1], ARGV[2], '1') end`;

/**
 * A follow-up's note and its target record, on the ledger entry: `noteSent` before each PATCH carrying the note (a
 * crash or a timeout after it may leave the note in the record unrecorded), `noted` once Primero holds it. Read before
 * a retry would file the same words as a case of their own (link gone, record now 403 or 404). Both live and die
 * with the entry (IDEMPOTENCY_WINDOW_HOURS); an entry already gone is not recreated. Each call names the job's
 * `acceptanceId` (InboundMessage.acceptanceId): the entry's marks are read and written for that acceptance only.
 */
export class FollowUpNotes {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async markSent(idempotencyKey: string, acceptanceId: string | null): Promise<void> {
    await this.redis.eval(MARK_ON_ENTRY, 1, ledgerEntryKey(this.prefix, idempotencyKey), acceptanceId ?? '', 'noteSent');
  }

  async markNoted(idempotencyKey: string, acceptanceId: string | null): Promise<void> {
    await this.redis.eval(MARK_ON_ENTRY, 1, ledgerEntryKey(this.prefix, idempotencyKey), acceptanceId ?? '', 'noted');
  }

  /**
   * `unknown`: nothing says what this job sent. The entry is gone with its window (a dead letter replayed days later),
   * or it names another acceptance (a resend after the window re-claimed the key; its marks are that job's), or the
   * job predates acceptance ids.
   */
  async progress(idempotencyKey: string, acceptanceId: string | null): Promise<NoteProgress> {
    const [acceptance, noted, sent] = await this.redis.hmget(ledgerEntryKey(this.prefix, idempotencyKey), 'acceptance', 'noted', 'noteSent');
    if (!acceptance || acceptance !== acceptanceId) return 'unknown';
    return noted === '1' ? 'noted' : sent === '1' ? 'sent' : 'none';
  }
}
