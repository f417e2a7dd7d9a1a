import type { RedisConnection } from '../queues/connection';
import type { RecordSnapshot, StoredSnapshot } from '../domain/record-events';
import { gatewayKey } from './keys';
import { LuaScript } from './lua-script';

// Compare-and-swap in one step: a newer look replaces the stored one and returns it; an older or equal
// look changes nothing. The webhook and the poller may deliver the same change at once: only one wins.
const SWAP = new LuaScript(`
local cur = redis.call('GET', KEYS[1])
if cur then
  local stored = tonumber(cjson.decode(cur)['updatedMs'])
  if stored ~= nil and stored >= tonumber(ARGV[2]) then return {0, cur} end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
if cur then return {1, cur} end
return {1, false}
`);

// The same swap for a look whose changes are then notified: with it, in the same step, `gw:snapshot-pending:<id>`
// keeps the look its changes are derived from (the last one whose notifications are known to have gone out) until
// settle() says this look's did. A worker that dies (or fails) between the swap and the dispatch leaves it: its retry
// finds its own look stored and the pending entry for that time, and dispatches again (every notification is keyed,
// so twice is once). A newer look swapped in first gets both earlier looks, the stored one and the pending entry's:
// its changes are derived from each (what the unfinished dispatch may not have sent, and what it may have), every one
// of them true of the newest look. Deleted by settle(), else by its TTL (ARGV[4]: half the notification dedupe
// window, so a dispatch done again always meets the keys of the first).
const SWAP_PENDING = new LuaScript(`
local cur = redis.call('GET', KEYS[1])
if cur then
  local stored = tonumber(cjson.decode(cur)['updatedMs'])
  if stored ~= nil and stored >= tonumber(ARGV[2]) then return {0, cur} end
end
local settled, unsettled = cur, false
local p = redis.call('GET', KEYS[2])
if p then
  settled = cjson.decode(p)['before']
  if settled == cjson.null then settled = false end
  unsettled = cur
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
redis.call('SET', KEYS[2], cjson.encode({updatedMs = ARGV[2], before = settled or cjson.null}), 'EX', ARGV[4])
return {1, settled or false, unsettled or false}
`);

// Replaces the stored look with ARGV[2] only while it is still the look at ARGV[1] (updatedMs), its TTL kept.
const REPLACE_SAME_LOOK = new LuaScript(`
local cur = redis.call('GET', KEYS[1])
if not cur or tonumber(cjson.decode(cur)['updatedMs']) ~= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
return 1
`);

// Deletes the pending entry only when it is the settled look's: a newer look's stays for its own dispatch.
const SETTLE = new LuaScript(`
local p = redis.call('GET', KEYS[1])
if p and cjson.decode(p)['updatedMs'] == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
`);

/** The last look the gateway had of each Primero record: owner, assignees, status, workflow. */
export class SnapshotStore {
  constructor(
    private readonly redis: RedisConnection,
    private readonly prefix: string,
    private readonly retentionDays: number,
    /** How long a look's unsettled dispatch is done again by its retry (or derived from by the next look). */
    private readonly pendingSeconds = 86_400,
  ) {}

  private key(recordId: string): string {
    return gatewayKey(this.prefix, 'snapshot', recordId);
  }

  private pendingKey(recordId: string): string {
    return gatewayKey(this.prefix, 'snapshot-pending', recordId);
  }

  async get(recordId: string): Promise<StoredSnapshot | null> {
    const stored = await this.redis.get(this.key(recordId));
    return stored ? (JSON.parse(stored) as StoredSnapshot) : null;
  }

  /**
   * Stores `next` if it is newer than what is stored. Returns `{ applied, before }`: `applied` false means
   * this change was already seen (or is older), and nothing should be derived from it.
   */
  async swap(next: RecordSnapshot): Promise<{ applied: boolean; before: RecordSnapshot | null }> {
    const args = this.swapArgs(next);
    if (!args) return { applied: false, before: null };
    const [applied, before] = (await SWAP.run(this.redis, [this.key(next.recordId)], args)) as [number, string | null];
    return { applied: applied === 1, before: parsed(before) };
  }

  /** The stored form of `next`, its time and the snapshot's TTL (SWAP's ARGV); null for a time that is none. */
  private swapArgs(next: StoredSnapshot): string[] | null {
    const updatedMs = Date.parse(next.lastUpdatedAt);
    return Number.isNaN(updatedMs) ? null : [JSON.stringify({ ...next, updatedMs }), String(updatedMs), String(this.retentionDays * 86400)];
  }

  /**
   * As swap(), for a look whose changes are notified next; call settle() once they are. `before` is the last look
   * whose notifications are known to have gone out; `unsettled`, when a dispatch after an earlier swap is not known
   * to have finished, that swap's look (stored until now): diff the new look against both.
   */
  async swapPending(next: RecordSnapshot): Promise<{ applied: boolean; before: RecordSnapshot | null; unsettled: RecordSnapshot | null }> {
    const args = this.swapArgs(next);
    if (!args) return { applied: false, before: null, unsettled: null };
    const keys = [this.key(next.recordId), this.pendingKey(next.recordId)];
    const [applied, before, unsettled] = (await SWAP_PENDING.run(this.redis, keys, [...args, String(Math.max(1, Math.floor(this.pendingSeconds)))])) as [number, string | null, string | null];
    return { applied: applied === 1, before: applied === 1 ? parsed(before) : null, unsettled: applied === 1 ? parsed(unsettled) : null };
  }

  /** For the look stored now: the look its changes are derived from, when their dispatch is not known to have finished. */
  async unfinished(stored: StoredSnapshot): Promise<{ before: RecordSnapshot | null } | null> {
    const kept = await this.redis.get(this.pendingKey(stored.recordId));
    if (!kept) return null;
    const pending = JSON.parse(kept) as { updatedMs?: unknown; before?: unknown };
    if (pending.updatedMs !== String(Date.parse(stored.lastUpdatedAt))) return null;
    return { before: parsed(typeof pending.before === 'string' ? pending.before : null) };
  }

  /**
   * Whether the stored look `stored` confirmed the safe-to-contact answer, as a retry of its dispatch found it: the
   * mark is set or cleared, unless a newer look has replaced it since (that look's own mark stands).
   */
  async markConfirmation(stored: StoredSnapshot, unconfirmed: boolean): Promise<void> {
    const look: StoredSnapshot = { ...stored };
    if (unconfirmed) look.safeUnconfirmed = true;
    else delete look.safeUnconfirmed;
    const args = this.swapArgs(look);
    if (!args) return;
    const [kept, updatedMs] = args;
    await REPLACE_SAME_LOOK.run(this.redis, [this.key(stored.recordId)], [updatedMs!, kept!]);
  }

  /** The changes of the look at `lastUpdatedAt` were dispatched. */
  async settle(recordId: string, lastUpdatedAt: string): Promise<void> {
    await SETTLE.run(this.redis, [this.pendingKey(recordId)], [String(Date.parse(lastUpdatedAt))]);
  }
}

const parsed = (kept: string | null): RecordSnapshot | null => (kept ? (JSON.parse(kept) as RecordSnapshot) : null);
