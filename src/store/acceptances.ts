import type { RedisConnection } from '../queues/connection';
import type { CounterField } from './counters';
import { gatewayKey } from './keys';
import { LuaScript } from './lua-script';
import { feedbackWindowKey } from './feedback-windows';
import { FollowUpNotes, ledgerEntryKey } from './follow-up-notes';
import { MergeMarks } from './merge-marks';
import { intakeJobId } from '../queues/jobs';
import { QueueUnavailableError } from '../queues/deadline';

/** The reference given to a fresh claim was handed out before (the counter went back): take another. */
export class ReferenceTakenError extends QueueUnavailableError {
  override readonly name = 'ReferenceTakenError';
}

/** What a feedback report may merge into: the sender's earlier report of the same category inside the window. */
export interface MergeWindow {
  /** The sender's keyed hash (ContactStore.urnHash): no URN is a key name. */
  senderHash: string;
  category: string;
  windowSeconds: number;
}

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
  /** Joined to the sender's open record as a follow-up (an explicit join target), not a feedback merge. */
  followUp: boolean;
  /** Confirmed: its job is in Redis and a worker may act on it. */
  stored: boolean;
  /** What the first delivery decided about protecting it; undefined for an entry written before this was kept. */
  sensitive?: boolean;
}

/**
 * How long a withdrawal is remembered: far past the window, so a withdrawn job that no worker reaches for days (a
 * paused queue, workers down) is still skipped, instead of proceeding beside the resend that replaced it.
 */
const WITHDRAWN_VERDICT_SECONDS = 30 * 86_400;

/** What was decided about an acceptance: only a confirmed one is ever acted on. */
export type Verdict = 'stored' | 'withdrawn';

// Redis's own clock, in ms: the API's and the worker's clocks never decide a verdict.
const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

// The ledger entry and the sender's merge claim are written together: either both exist or neither. An entry
// that was withdrawn, or never confirmed before its `confirmBy`, names nothing: a later delivery starts afresh
// (and takes back the merge window it had opened).
// KEYS: the entry under the current hash, then ARGV[6] entries under earlier hash keys (a HASH_KEY or DATA_KEY
// change), then ARGV[7] BullMQ deduplication keys of versions before the ledger (their value is the job id),
// then `gw:issued:<own>`, the reservation of the message's own reference (ARGV[1]); then the merge key.
// A repeat returns above, before the reservation: it answers its first reference and reserves nothing. A fresh
// claim reserves its own reference (SET NX) and returns {-1} when it was reserved already: the counter went back
// (a failover or an AOF restart lost its last INCRBY while a block was still being issued), and the same job id
// would be silently ignored by BullMQ's add, or a merge's or follow-up's own reference taken for another's link.
// The caller takes a fresh block. A refused claim still leaves what the dead-entry path above wrote (an earlier
// acceptance's withdrawal): true whatever follows. The reservation is deleted only by its TTL, the idempotency
// window (ARGV[3], IDEMPOTENCY_WINDOW_HOURS): a reference issued before a counter rollback is recognised for
// that long, no longer (one small key per message: README, Redis sizing). ARGV[10] is the intake job-id prefix
// (queues/jobs.ts). ARGV[11], when given and no merge
// key is, is an explicit join target (a follow-up to the sender's open record): claimed as a merge into it, in
// the same script, and the entry remembers it (`followUp`) so a duplicate says so too. ARGV[12] ('1' or '0') is
// whether the message is protected as sensitive, kept so a repeat re-adds the job as the first delivery decided.
// The 9th number returned says which key held the acceptance; the 10th is '1' for a follow-up; the 11th the
// kept sensitivity ('' when the entry predates it).
const CLAIM = new LuaScript(`${NOW}
local alternates, legacy = tonumber(ARGV[6]), tonumber(ARGV[7])
local issued, mergeKey = KEYS[2 + alternates + legacy], KEYS[3 + alternates + legacy]
for i = 1, 1 + alternates do
  local e = redis.call('HMGET', KEYS[i], 'reference', 'acceptance', 'jobId', 'mergeInto', 'own', 'stored', 'withdrawn', 'confirmBy', 'followUp', 'sensitive')
  if e[1] then
    local dead = e[7] == '1' or (e[6] ~= '1' and now >= tonumber(e[8] or '0'))
    if not dead then return {0, e[1], e[2], e[3], e[4] or '', e[5] or e[1], e[6] or '', math.max(0, tonumber(e[8] or '0') - now), i, e[9] or '', e[10] or ''} end
    if mergeKey and redis.call('GET', mergeKey) == (e[5] or e[1]) then redis.call('DEL', mergeKey) end
    redis.call('SET', ARGV[8] .. e[2], 'withdrawn', 'EX', ARGV[9])
    -- The current key is claimed afresh below; an earlier key's entry stays, withdrawn, for its job to find.
    if i == 1 then redis.call('DEL', KEYS[1]) else redis.call('HSET', KEYS[i], 'withdrawn', '1') end
  end
end
for i = 2 + alternates, 1 + alternates + legacy do
  local jobId = redis.call('GET', KEYS[i])
  if jobId then return {0, '', '', jobId, '', '', '1', 0, i, ''} end
end
if not redis.call('SET', issued, '1', 'EX', ARGV[3], 'NX') then return {-1} end
local earlier, followUp = false, ''
if mergeKey then earlier = redis.call('SET', mergeKey, ARGV[1], 'EX', ARGV[4], 'NX', 'GET')
elseif ARGV[11] and ARGV[11] ~= '' then earlier = ARGV[11]; followUp = '1' end
local reference, jobId, mergeInto = ARGV[1], ARGV[10] .. ARGV[1], ''
if earlier then reference = earlier; jobId = ARGV[10] .. earlier .. '-' .. ARGV[1]; mergeInto = earlier end
redis.call('HSET', KEYS[1], 'reference', reference, 'acceptance', ARGV[2], 'jobId', jobId, 'mergeInto', mergeInto, 'own', ARGV[1], 'confirmBy', string.format('%.0f', now + tonumber(ARGV[5])))
if followUp == '1' then redis.call('HSET', KEYS[1], 'followUp', '1') end
if ARGV[12] and ARGV[12] ~= '' then redis.call('HSET', KEYS[1], 'sensitive', ARGV[12]) end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return {1, reference, ARGV[2], jobId, mergeInto, ARGV[1], '', tonumber(ARGV[5]), 1, followUp, ARGV[12] or ''}
`);

// The API's confirmation after its add: stored only before confirmBy, else withdrawn, once and for all. The
// verdict is also kept under the acceptance's own id (KEYS[2]), so a later claim of the same idempotency key
// (a resend after the window) cannot make this acceptance's job look withdrawn. KEYS[3], when given, is a
// counter hash whose field ARGV[4] counts acceptances, once each, as they are stored (no round trip of its own).
const MARK_STORED = new LuaScript(`${NOW}
local e = redis.call('HMGET', KEYS[1], 'acceptance', 'stored', 'withdrawn', 'confirmBy')
if e[1] ~= ARGV[1] then return 'withdrawn' end
if e[2] == '1' then return 'stored' end
if e[3] == '1' then return 'withdrawn' end
if now < tonumber(e[4] or '0') then
  redis.call('HSET', KEYS[1], 'stored', '1')
  redis.call('SET', KEYS[2], 'stored', 'EX', ARGV[2])
  -- pcall: the message is stored whatever becomes of its count (a counter hash of the wrong type must not turn a
  -- stored message into a 5xx, since Redis keeps the writes above even when a later call raises).
  if KEYS[3] then redis.pcall('HINCRBY', KEYS[3], ARGV[4], 1) end
  return 'stored'
end
redis.call('HSET', KEYS[1], 'withdrawn', '1')
redis.call('SET', KEYS[2], 'withdrawn', 'EX', ARGV[3])
return 'withdrawn'
`);

// The worker's question before acting: proceed only on a confirmed acceptance. The acceptance's own verdict
// decides first; then its ledger entry: no verdict past confirmBy is withdrawn (written, so a confirmation still
// in flight finds it); before confirmBy, the ms left to wait. An entry gone, or naming a later acceptance with
// this one's verdict expired (both older than the window), proceeds: an acknowledged message is never dropped
// on a guess.
const BEGIN = new LuaScript(`${NOW}
local v = redis.call('GET', KEYS[2])
if v == 'stored' then return 'proceed' end
if v == 'withdrawn' then return 'withdrawn' end
local e = redis.call('HMGET', KEYS[1], 'acceptance', 'stored', 'withdrawn', 'confirmBy')
if not e[1] or e[1] ~= ARGV[1] then return 'proceed' end
if e[2] == '1' then return 'proceed' end
if e[3] == '1' then return 'withdrawn' end
local by = tonumber(e[4] or '0')
if now >= by then
  redis.call('HSET', KEYS[1], 'withdrawn', '1')
  redis.call('SET', KEYS[2], 'withdrawn', 'EX', ARGV[3])
  return 'withdrawn'
end
return string.format('%.0f', by - now)
`);

/**
 * The idempotency ledger: idempotency key → the acceptance, for exactly IDEMPOTENCY_WINDOW_HOURS and
 * independent of the job (whose removal by retention must not shorten the window). One key,
 * `gw:accepted:<deduplicationId>` (hash), written by the API at claim (with `confirmBy`, Redis time), given its
 * verdict (`stored` or `withdrawn`) by the API's confirmation or the worker's first look, replaced only by a
 * later delivery's claim when it names nothing, deleted only by its TTL. A process that dies after the claim
 * leaves an unconfirmed entry: past `confirmBy` it counts as withdrawn and the provider's retry claims afresh.
 * An entry gone (the window is over) lets a job that is still around proceed: it was confirmed back then.
 */
export class AcceptanceLedger {
  /** A follow-up's note marks, kept on its job's hash and on this ledger's entries (src/store/follow-up-notes.ts). */
  readonly notes: FollowUpNotes;
  /** A merged report's marks, kept on its job's hash (src/store/merge-marks.ts). */
  readonly merges: MergeMarks;

  constructor(
    private readonly redis: RedisConnection,
    private readonly prefix: string,
    private readonly windowSeconds: number,
  ) {
    this.notes = new FollowUpNotes(redis, prefix);
    this.merges = new MergeMarks(redis);
  }

  /** `gw:verdict:<acceptanceId>`: stored (gone with the window) | withdrawn (kept 30 days), written with each decision. */
  private verdictKey(acceptanceId: string): string {
    return gatewayKey(this.prefix, 'verdict', acceptanceId);
  }

  /** `hashedKey` is the keyed hash of the provider's id (IdentifierHasher.deduplicationId): no raw id is a key name. */
  private key(hashedKey: string): string {
    return ledgerEntryKey(this.prefix, hashedKey);
  }

  /**
   * The first delivery claims (fresh) and must be confirmed within `confirmWithinMs` (Redis time from the
   * claim); a later one reads the first acceptance while it stands — also when it was recorded under an earlier
   * hash key (`earlier.hashes`) or, during the upgrade, by an older version's BullMQ deduplication key
   * (`earlier.legacyDedupKeys`, whose value is the job id). `key` is the hashed id the entry lives under: the
   * job carries it, and the confirmation and the worker's `begin` use it. `merge` opens or joins the sender's
   * feedback window, claimed in the same script as the entry. `join` (a follow-up's target reference, ignored
   * when `merge` is given) merges into that reference unconditionally: the caller chose it from the sender's own
   * records. A repeat answers what the first delivery was told, whatever `join` it passes.
   */
  async claim(
    idempotencyKey: string,
    own: string,
    acceptanceId: string,
    confirmWithinMs: number,
    merge?: MergeWindow,
    earlier: { hashes: string[]; legacyDedupKeys: string[] } = { hashes: [], legacyDedupKeys: [] },
    join?: string,
    sensitive?: boolean,
  ): Promise<{ fresh: boolean; acceptance: Acceptance; windowMs: number; key: string; legacyJobId?: string }> {
    const hashes = [idempotencyKey, ...earlier.hashes.filter((h) => h !== idempotencyKey)];
    const keys = [...hashes.map((h) => this.key(h)), ...earlier.legacyDedupKeys, gatewayKey(this.prefix, 'issued', own), ...(merge ? [feedbackWindowKey(this.prefix, merge.senderHash, merge.category)] : [])];
    const r = (await CLAIM.run(this.redis, keys, [
      own,
      acceptanceId,
      this.windowSeconds,
      merge?.windowSeconds ?? 0,
      Math.max(1, Math.floor(confirmWithinMs)),
      hashes.length - 1,
      earlier.legacyDedupKeys.length,
      this.verdictKey(''),
      WITHDRAWN_VERDICT_SECONDS,
      intakeJobId.prefix,
      join && !merge ? join : '',
      sensitive === undefined ? '' : sensitive ? '1' : '0',
    ])) as [number, string, string, string, string, string, string, number, number, string, string];
    if (r[0] === -1) throw new ReferenceTakenError();
    if (r[8] > hashes.length) {
      // An older version's job: its id names the reference (the caller reads it); it was stored back then.
      return { fresh: false, key: idempotencyKey, windowMs: 0, legacyJobId: r[3], acceptance: { reference: '', acceptanceId: '', jobId: r[3], mergeInto: null, own: '', stored: true, followUp: false } };
    }
    return {
      fresh: r[0] === 1,
      key: hashes[r[8] - 1]!,
      /** What is left of the acceptance's confirmation window (a repeat's is its first delivery's). */
      windowMs: Number(r[7]),
      acceptance: { reference: r[1], acceptanceId: r[2], jobId: r[3], mergeInto: r[4] || null, own: r[5], stored: r[6] === '1', followUp: r[9] === '1', sensitive: r[10] === '' ? undefined : r[10] === '1' },
    };
  }

  /** Sent after the add: `stored` only when it lands before the claim's confirmBy; `countAs` is incremented then, once. */
  async markStored(idempotencyKey: string, acceptanceId: string, countAs?: CounterField): Promise<Verdict> {
    const keys = [this.key(idempotencyKey), this.verdictKey(acceptanceId), ...(countAs ? [countAs.key] : [])];
    return (await MARK_STORED.run(this.redis, keys, [acceptanceId, this.windowSeconds, WITHDRAWN_VERDICT_SECONDS, countAs?.field ?? ''])) as Verdict;
  }

  /** The worker's first word on a job: proceed, withdrawn (nothing may be done), or the ms to wait for a verdict. */
  async begin(idempotencyKey: string, acceptanceId: string): Promise<'proceed' | 'withdrawn' | number> {
    const r = (await BEGIN.run(this.redis, [this.key(idempotencyKey), this.verdictKey(acceptanceId)], [acceptanceId, this.windowSeconds, WITHDRAWN_VERDICT_SECONDS])) as string;
    return r === 'proceed' || r === 'withdrawn' ? r : Number(r);
  }
}
