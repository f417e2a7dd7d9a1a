import type { Redis } from 'ioredis';
import { gatewayKey } from './keys';

/**
 * Where one message to a person stands: `claimed` (a send is about to start or under way, or ended without an
 * answer: only the attempt holding it could know whether it went out) or `sent` (the provider took it).
 */
export type ClaimState = 'claimed' | 'sent';

export interface SendClaim {
  state: ClaimState;
  /** The BullMQ job that holds it: a retry, a stalled re-run and an operator's replay all run under its id. */
  owner: string;
}

// The value is `<state>:<owner>`; only the owner moves it on, and nothing but a released claim or the TTL removes it.
// Another job's claim is replaced: a second job for the same message exists only once BullMQ's deduplication window
// has passed, and whether it may send is the deduplication's and the acceptance ledger's to say, as before claims.
// Answers nil when `owner` now holds the claim, else the value its own earlier attempt left.
const CLAIM = `
local value = redis.call('GET', KEYS[1])
if value and string.match(value, '^[^:]*:(.*)$') == ARGV[1] then return value end
redis.call('SET', KEYS[1], 'claimed:' .. ARGV[1], 'EX', ARGV[2])
return false
`;
const MARK_SENT = `
if redis.call('GET', KEYS[1]) ~= 'claimed:' .. ARGV[1] then return 0 end
redis.call('SET', KEYS[1], 'sent:' .. ARGV[1], 'KEEPTTL')
return 1
`;
const RELEASE = `
if redis.call('GET', KEYS[1]) == 'claimed:' .. ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

function claimOf(value: string | null): SendClaim | null {
  if (value === null) return null;
  const colon = value.indexOf(':');
  const state = value.slice(0, colon);
  // A value this build did not write is read as the unknown case: it may have been sent.
  return { state: state === 'sent' ? 'sent' : 'claimed', owner: value.slice(colon + 1) };
}

/**
 * The at-most-once ledger of messages to a person that are not caseworker notes (those have their own, with outcome
 * notes: src/store/caseworker-messages.ts): acknowledgements, STATUS answers, status flow starts.
 * `gw:send-claim:<id>`, one string per message, where `<id>` is the job's deduplication id: a keyed hash of the
 * inbound message id (HASH_KEY), or a hash of a notification key naming a reference and a status. Never a number.
 *
 * Claimed before the send (created if absent, in one script); marked sent after it; released (deleted) only after a failure that proves nothing
 * went out, so a retry or a replay may send. Otherwise only its TTL deletes it: long enough to outlive every attempt
 * of the job (the idempotency window, in which the same inbound id cannot make a new job) plus the time a dead letter
 * waits for an operator (DEAD_LETTER_RETENTION_DAYS): a replay inside it finds the claim and sends nothing again.
 * A process dying between the claim and the mark leaves `claimed`: the next attempt reads it as "may have been sent".
 */
export class SendClaims {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlSeconds: number,
  ) {}

  private key(id: string): string {
    return gatewayKey(this.prefix, 'send-claim', id);
  }

  /** Null when `owner` now holds the claim (send now); else the claim an earlier attempt of the same job left. */
  async claim(id: string, owner: string): Promise<SendClaim | null> {
    return claimOf((await this.redis.eval(CLAIM, 1, this.key(id), owner, this.ttlSeconds)) as string | null);
  }

  async markSent(id: string, owner: string): Promise<void> {
    await this.redis.eval(MARK_SENT, 1, this.key(id), owner);
  }

  /** Gives the claim back after a send that certainly sent nothing (refused, or no connection was made). */
  async release(id: string, owner: string): Promise<void> {
    await this.redis.eval(RELEASE, 1, this.key(id), owner);
  }

  async get(id: string): Promise<SendClaim | null> {
    return claimOf(await this.redis.get(this.key(id)));
  }
}
