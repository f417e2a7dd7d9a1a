import type { Redis } from 'ioredis';
import { gatewayKey } from './keys';

/** One acceptance of one message: what the sender was told and which job carries it. */
export interface Acceptance {
  reference: string;
  /** Names this acceptance alone (the Primero record id derives from it); a new acceptance gets a new one. */
  acceptanceId: string;
  jobId: string;
  /** The earlier report's reference when this one is merged into it. */
  mergeInto: string | null;
  /** The message's own reference (equal to `reference` unless merged). */
  own: string;
  /** The job was seen in Redis by the API that claimed it (a claim without it may have lost its job in a crash). */
  stored: boolean;
}

export type Withdrawal = 'withdrawn' | 'started' | 'stored';

// The ledger entry and the sender's merge claim are written together: either both exist or neither.
const CLAIM = `
local e = redis.call('HMGET', KEYS[1], 'reference', 'acceptance', 'jobId', 'mergeInto', 'own', 'stored')
if e[1] then return {0, e[1], e[2], e[3], e[4] or '', e[5] or e[1], e[6] or ''} end
local earlier = false
if #KEYS > 1 then earlier = redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[4], 'NX', 'GET') end
local reference, jobId, mergeInto = ARGV[1], 'm-' .. ARGV[1], ''
if earlier then reference = earlier; jobId = 'm-' .. earlier .. '-' .. ARGV[1]; mergeInto = earlier end
redis.call('HSET', KEYS[1], 'reference', reference, 'acceptance', ARGV[2], 'jobId', jobId, 'mergeInto', mergeInto, 'own', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return {1, reference, ARGV[2], jobId, mergeInto, ARGV[1], ''}
`;

const MARK_STORED = `
if redis.call('HGET', KEYS[1], 'acceptance') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'stored', '1')
return 1
`;

// Atomic against the worker's start (same marker key): either the worker began, and the answer is the
// reference, or the withdrawal wins, the worker will skip the job, and the claims are undone.
const WITHDRAW = `
local acc = redis.call('HGET', KEYS[1], 'acceptance')
if acc == ARGV[1] and redis.call('HGET', KEYS[1], 'stored') == '1' then return 'stored' end
local prior = redis.call('SET', KEYS[2], 'withdrawn', 'EX', ARGV[3], 'NX', 'GET')
if prior == 'started' then
  if acc == ARGV[1] then redis.call('HSET', KEYS[1], 'stored', '1') end
  return 'started'
end
if acc == ARGV[1] then redis.call('DEL', KEYS[1]) end
if #KEYS > 2 and redis.call('GET', KEYS[3]) == ARGV[2] then redis.call('DEL', KEYS[3]) end
return 'withdrawn'
`;

/**
 * The idempotency ledger: idempotency key → the acceptance, for exactly IDEMPOTENCY_WINDOW_HOURS and
 * independent of the job (whose removal by retention must not shorten the window). Keys:
 * - `gw:accepted:<deduplicationId>` (hash): written by the API at claim, deleted only by its TTL or by the
 *   API's own withdrawal when it answers 503;
 * - `gw:acceptance:<acceptanceId>` ("started" | "withdrawn"): the race between a late job and its 503,
 *   written by the worker's first start or by the withdrawal, deleted by its TTL (the same window).
 */
export class AcceptanceLedger {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly windowSeconds: number,
  ) {}

  /** `hashedKey` is the keyed hash of the provider's id (IdentifierHasher.deduplicationId): no raw id is a key name. */
  private key(hashedKey: string): string {
    return gatewayKey(this.prefix, 'accepted', hashedKey);
  }

  private marker(acceptanceId: string): string {
    return gatewayKey(this.prefix, 'acceptance', acceptanceId);
  }

  /** The first delivery claims (fresh); a later one reads the first acceptance. */
  async claim(idempotencyKey: string, own: string, acceptanceId: string, merge?: { key: string; windowSeconds: number }): Promise<{ fresh: boolean; acceptance: Acceptance }> {
    const keys = merge ? [this.key(idempotencyKey), merge.key] : [this.key(idempotencyKey)];
    const r = (await this.redis.eval(CLAIM, keys.length, ...keys, own, acceptanceId, this.windowSeconds, merge?.windowSeconds ?? 0)) as [number, string, string, string, string, string, string];
    return {
      fresh: r[0] === 1,
      acceptance: { reference: r[1], acceptanceId: r[2], jobId: r[3], mergeInto: r[4] || null, own: r[5], stored: r[6] === '1' },
    };
  }

  /** False when the acceptance was withdrawn meanwhile (its delivery was answered 503). */
  async markStored(idempotencyKey: string, acceptanceId: string): Promise<boolean> {
    return (await this.redis.eval(MARK_STORED, 1, this.key(idempotencyKey), acceptanceId)) === 1;
  }

  /** Sent on the connection that sent the job, after it: it lands after the add, however late that is. */
  async withdraw(idempotencyKey: string, acceptanceId: string, own: string, mergeKey?: string): Promise<Withdrawal> {
    const keys = [this.key(idempotencyKey), this.marker(acceptanceId), ...(mergeKey ? [mergeKey] : [])];
    return (await this.redis.eval(WITHDRAW, keys.length, ...keys, acceptanceId, own, this.windowSeconds)) as Withdrawal;
  }

  /** The worker's first word on a job: false when its acceptance was withdrawn and nothing may be done. */
  async begin(acceptanceId: string): Promise<boolean> {
    const prior = await this.redis.set(this.marker(acceptanceId), 'started', 'EX', this.windowSeconds, 'NX', 'GET');
    return prior !== 'withdrawn';
  }
}
