import type { Job } from 'bullmq';
import type { RedisConnection } from '../queues/connection';
import { jobKey } from './job-hash';
import { LuaScript } from './lua-script';

/**
 * Where one message to a person stands: `claimed` (a send is about to start or under way, or ended without an
 * answer: only the attempt holding it could know whether it went out) or `sent` (the provider took it).
 */
export type ClaimState = 'claimed' | 'sent';

export interface SendClaim {
  state: ClaimState;
  /** The attempt that holds it: a token of its own, so a command sent twice by one attempt is not read as another's. */
  owner: string;
}

/** The field of the BullMQ job hash the claim lives in. BullMQ reads only the fields it knows and keeps the rest. */
const FIELD = 'gw:send-claim';

// The value is `<state>:<owner>`, the owner a token of one attempt; only the owner moves it on, and the same owner
// claiming again is told it holds it (ioredis sends a command again when its reply was lost). A job hash that is gone is never re-created by a claim
// (nothing would delete it): the answer is `gone`, and nothing is sent.
const CLAIM = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 'gone:' end
local value = redis.call('HGET', KEYS[1], ARGV[1])
if value == 'claimed:' .. ARGV[2] then return false end
if value then return value end
redis.call('HSET', KEYS[1], ARGV[1], 'claimed:' .. ARGV[2])
return false
`);
const MARK_SENT = new LuaScript(`
if redis.call('HGET', KEYS[1], ARGV[1]) ~= 'claimed:' .. ARGV[2] then return 0 end
return redis.call('HSET', KEYS[1], ARGV[1], 'sent:' .. ARGV[2])
`);
const RELEASE = new LuaScript(`
if redis.call('HGET', KEYS[1], ARGV[1]) == 'claimed:' .. ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0
`);

// Only while the job is a dead letter (in its queue's failed set, KEYS[2], the job's own slot): then no attempt of it
// is meant to run, so the claim removed is not a live attempt's. Checked in the script, so a second resend racing
// the first, whose retry already runs and holds a new claim, is refused instead of deleting that claim.
const GIVE_BACK = new LuaScript(`
if not redis.call('ZSCORE', KEYS[2], ARGV[2]) then return 'not-dead' end
local value = redis.call('HGET', KEYS[1], ARGV[1])
if value and string.sub(value, 1, 5) == 'sent:' then return 'sent' end
redis.call('HDEL', KEYS[1], ARGV[1])
return 'given-back'
`);

/** Thrown when the job was removed (discarded, forgotten) while it ran: there is nothing left to send for. */
export class JobGoneError extends Error {
  override readonly name = 'JobGoneError';
  constructor() {
    super('the job was removed before its message was sent: nothing was sent');
  }
}

function claimOf(value: string | null): SendClaim | null {
  if (value === null) return null;
  const colon = value.indexOf(':');
  const state = value.slice(0, colon);
  if (state === 'gone') throw new JobGoneError();
  // A value this build did not write is read as the unknown case: it may have been sent.
  return { state: state === 'sent' ? 'sent' : 'claimed', owner: value.slice(colon + 1) };
}

/**
 * The at-most-once ledger of messages to a person that are not caseworker notes (those have their own, with outcome
 * notes: src/store/caseworker-messages.ts): acknowledgements, STATUS answers, status flow starts.
 *
 * A claim is a field of its BullMQ job's hash, so it lives exactly as long as the job: its retries, stalled re-runs
 * and replays (BullMQ keeps the fields it does not know) all find it, however long a dead letter waits, and it goes
 * with the job (completed and removed, discarded, forgotten). No key of its own, no TTL, nothing naming the message.
 *
 * Claimed before the send; marked sent after it; released only after a failure that proves nothing went out, or by
 * an operator's audited resend after checking. A process dying between the claim and the mark leaves `claimed`:
 * the next attempt reads it as "may have been sent".
 */
export class SendClaims {
  constructor(private readonly redis: RedisConnection) {}

  /** Null when `owner` now holds the claim (send now); else the claim an earlier attempt of the job left. */
  async claim(job: Job, owner: string): Promise<SendClaim | null> {
    return claimOf((await CLAIM.run(this.redis, [jobKey(job)], [FIELD, owner])) as string | null);
  }

  async markSent(job: Job, owner: string): Promise<void> {
    await MARK_SENT.run(this.redis, [jobKey(job)], [FIELD, owner]);
  }

  /** Gives the claim back after a send that certainly sent nothing (refused, or no connection was made). */
  async release(job: Job, owner: string): Promise<void> {
    await RELEASE.run(this.redis, [jobKey(job)], [FIELD, owner]);
  }

  /**
   * An operator's resend of a "not confirmed" dead letter, after checking the message did not go out: the job's
   * claim is removed so its next run sends. Refused (`sent`) when the provider is known to have taken it, and
   * (`not-dead`) when the job is no longer a dead letter (another resend or a replay moved it back meanwhile).
   */
  async giveBack(job: Job): Promise<'given-back' | 'sent' | 'not-dead'> {
    return (await GIVE_BACK.run(this.redis, [jobKey(job), `${job.queueQualifiedName}:failed`], [FIELD, job.id!])) as 'given-back' | 'sent' | 'not-dead';
  }

  async get(job: Job): Promise<SendClaim | null> {
    return claimOf(await this.redis.hget(jobKey(job), FIELD));
  }
}
