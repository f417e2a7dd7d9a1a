import type { Redis } from 'ioredis';
import { gatewayKey } from './keys';

/** The idempotency ledger's entry for a hashed idempotency key (IdentifierHasher.deduplicationId). */
export const ledgerEntryKey = (prefix: string, hashedKey: string) => gatewayKey(prefix, 'accepted', hashedKey);

/** What the entry says of a follow-up's note: in the record, perhaps in it (a PATCH went out), none sent, or gone. */
export type NoteProgress = 'noted' | 'sent' | 'none' | 'unknown';

// A mark on an entry that exists: an HSET on an expired one would leave a hash with no TTL.
const MARK_ON_ENTRY = `if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], ARGV[1], '1') end`;

/**
 * A follow-up's note and its target record, on the ledger entry: `noteSent` before each PATCH carrying the note (a
 * crash or a timeout after it may leave the note in the record unrecorded), `noted` once Primero holds it. Read before
 * a retry would file the same words as a case of their own (link gone, record now 403 or 404). Both live and die
 * with the entry (IDEMPOTENCY_WINDOW_HOURS); an entry already gone is not recreated.
 */
export class FollowUpNotes {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async markSent(idempotencyKey: string): Promise<void> {
    await this.redis.eval(MARK_ON_ENTRY, 1, ledgerEntryKey(this.prefix, idempotencyKey), 'noteSent');
  }

  async markNoted(idempotencyKey: string): Promise<void> {
    await this.redis.eval(MARK_ON_ENTRY, 1, ledgerEntryKey(this.prefix, idempotencyKey), 'noted');
  }

  /** `unknown`: the entry is gone with its window (a dead letter replayed days later), so nothing says what was sent. */
  async progress(idempotencyKey: string): Promise<NoteProgress> {
    const [acceptance, noted, sent] = await this.redis.hmget(ledgerEntryKey(this.prefix, idempotencyKey), 'acceptance', 'noted', 'noteSent');
    if (!acceptance) return 'unknown';
    return noted === '1' ? 'noted' : sent === '1' ? 'sent' : 'none';
  }
}
