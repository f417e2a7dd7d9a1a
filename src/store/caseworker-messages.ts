import type { RedisConnection } from '../queues/connection';
import { sha256Hex } from '../domain/idempotency';
import { CASEWORKER_OUTCOMES, type CaseworkerOutcome } from '../domain/reporter-notes';
import { gatewayKey } from './keys';

/**
 * Where one caseworker note stands: `claimed` (its send is about to start or under way: what happened is unknown
 * to anyone but the job holding it), `final` (its outcome is known and not yet on the case) or `noted` (the outcome
 * note is on the case: nothing is left to do).
 */
export type LedgerState = 'claimed' | 'final' | 'noted';

export interface LedgerEntry {
  state: LedgerState;
  /** The BullMQ job that holds it: a retry (or replay) of that job runs under the same id. */
  owner: string;
  outcome: CaseworkerOutcome | null;
  /** When the outcome was settled (ISO), for the outcome note's time. */
  at: string | null;
}

/*
 * The entry's life: at least today's retention plus a day, and always a day past the record's link (KEYS[2], the
 * record-ref key detection starts from), read in the same step. A link written under a longer retention than today's
 * keeps its own TTL, so the entry must follow the link, not the setting; a link that never expires keeps it forever.
 */
const OUTLIVE_LINK = `
local function outliveLink(floorSeconds)
  local left = redis.call('PTTL', KEYS[2])
  if left == -1 then return redis.call('PERSIST', KEYS[1]) end
  local ttl = tonumber(floorSeconds) * 1000
  if left > 0 and left + 86400000 > ttl then ttl = left + 86400000 end
  redis.call('PEXPIRE', KEYS[1], ttl)
end
`;
// Create-if-absent. Answers nil when this owner now holds the claim, else the entry as it stands.
const CLAIM = `${OUTLIVE_LINK}
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('HMGET', KEYS[1], 'state', 'owner', 'outcome', 'at') end
redis.call('HSET', KEYS[1], 'state', 'claimed', 'owner', ARGV[1])
outliveLink(ARGV[2])
return nil
`;
// Only the owner moves an entry on; an absent entry is created (a gate's outcome needs no claim first).
const SETTLE = `${OUTLIVE_LINK}
local owner = redis.call('HGET', KEYS[1], 'owner')
if owner and owner ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'owner', ARGV[1], 'outcome', ARGV[3], 'at', ARGV[4])
outliveLink(ARGV[5])
return 1
`;
const NOTED = `
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', 'noted')
return 1
`;
const RELEASE = `
if redis.call('HGET', KEYS[1], 'owner') == ARGV[1] and redis.call('HGET', KEYS[1], 'state') == 'claimed' then return redis.call('DEL', KEYS[1]) end
return 0
`;

// Only an outcome that proves nothing went out (the provider refused it, or was never reached) can be reopened.
const REOPEN = `
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
local outcome = redis.call('HGET', KEYS[1], 'outcome')
if outcome ~= 'failed' and outcome ~= 'refused' then return 0 end
return redis.call('DEL', KEYS[1])
`;

const isOutcome = (v: unknown): v is CaseworkerOutcome => (CASEWORKER_OUTCOMES as readonly unknown[]).includes(v);
const isState = (v: unknown): v is LedgerState => v === 'claimed' || v === 'final' || v === 'noted';

/**
 * The at-most-once ledger of caseworker messages: `gw:caseworker-message:<sha256(record id : note id)>`, one hash
 * per note (the note id is hashed: it is a Primero user's choice, of any length). Written by the
 * caseworker-messages worker only; nothing deletes it but a released claim (a send that certainly sent nothing)
 * and its TTL, set at each write to a day past the record's link as it stands (or today's retention plus a day,
 * if longer): a note cannot be detected again (detection needs the link) once its entry is gone.
 * A process dying after a write leaves the entry as written: a claim without an outcome is read by the retry as
 * "may have been sent", never sent again.
 */
export class CaseworkerMessageLedger {
  private readonly ttlSeconds: number;

  constructor(
    private readonly redis: RedisConnection,
    private readonly prefix: string,
    referenceRetentionDays: number,
  ) {
    this.ttlSeconds = (referenceRetentionDays + 1) * 86400;
  }

  private key(recordId: string, noteId: string): string {
    return gatewayKey(this.prefix, 'caseworker-message', sha256Hex(`${recordId}:${noteId}`));
  }

  /** The entry and the link it must outlive (the record's key in ReferenceStore). */
  private keys(recordId: string, noteId: string): [string, string] {
    return [this.key(recordId, noteId), gatewayKey(this.prefix, 'record-ref', recordId)];
  }

  async get(recordId: string, noteId: string): Promise<LedgerEntry | null> {
    const [state, owner, outcome, at] = await this.redis.hmget(this.key(recordId, noteId), 'state', 'owner', 'outcome', 'at');
    return entryOf([state, owner, outcome, at]);
  }

  /** Null when `owner` now holds the note's claim (send now); else the entry another attempt left. */
  async claim(recordId: string, noteId: string, owner: string): Promise<LedgerEntry | null> {
    const found = (await this.redis.eval(CLAIM, 2, ...this.keys(recordId, noteId), owner, this.ttlSeconds)) as Array<string | null> | null;
    return found ? (entryOf(found) ?? { state: 'claimed', owner: '', outcome: null, at: null }) : null;
  }

  /** Records the outcome (false when another job holds the note). */
  async settle(recordId: string, noteId: string, owner: string, outcome: CaseworkerOutcome, at: Date): Promise<boolean> {
    return (await this.redis.eval(SETTLE, 2, ...this.keys(recordId, noteId), owner, 'final', outcome, at.toISOString(), this.ttlSeconds)) === 1;
  }

  async markNoted(recordId: string, noteId: string, owner: string): Promise<void> {
    await this.redis.eval(NOTED, 1, this.key(recordId, noteId), owner);
  }

  /**
   * An operator's replay of a dead letter whose outcome says nothing went out: the entry is removed so the same job
   * sends it now (still at most once). False for any other entry: that replay only rewrites the outcome note.
   */
  async reopen(recordId: string, noteId: string, owner: string): Promise<boolean> {
    return (await this.redis.eval(REOPEN, 1, this.key(recordId, noteId), owner)) === 1;
  }

  /** Gives the claim back after a send that certainly sent nothing (an answer refused it, or no connection was made). */
  async release(recordId: string, noteId: string, owner: string): Promise<void> {
    await this.redis.eval(RELEASE, 1, this.key(recordId, noteId), owner);
  }
}

function entryOf([state, owner, outcome, at]: Array<string | null | undefined>): LedgerEntry | null {
  if (!isState(state)) return null;
  return { state, owner: owner ?? '', outcome: isOutcome(outcome) ? outcome : null, at: at || null };
}
