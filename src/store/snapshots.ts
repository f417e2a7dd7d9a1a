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
// keeps the look its changes are derived from (the last one whose notifications went out) until settle() says they
// did. A worker that dies (or fails) between the swap and the dispatch leaves it: its retry finds its own look
// stored and the pending entry for that time, and dispatches again (every notification is keyed, so twice is once);
// a newer look swapped in first derives its changes from the pending entry's look, so none are skipped. Deleted by
// settle(), else by its TTL (the snapshot's).
const SWAP_PENDING = new LuaScript(`
local cur = redis.call('GET', KEYS[1])
if cur then
  local stored = tonumber(cjson.decode(cur)['updatedMs'])
  if stored ~= nil and stored >= tonumber(ARGV[2]) then return {0, cur} end
end
local before = cur
local p = redis.call('GET', KEYS[2])
if p then
  before = cjson.decode(p)['before']
  if before == cjson.null then before = false end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
redis.call('SET', KEYS[2], cjson.encode({updatedMs = ARGV[2], before = before or cjson.null}), 'EX', ARGV[3])
return {1, before or false}
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
    return this.swapWith(SWAP, [this.key(next.recordId)], next);
  }

  /**
   * As swap(), for a look whose changes are notified next: `before` is the last look whose notifications went out
   * (settled), which is the one stored unless a dispatch after an earlier swap never finished. Call settle() after.
   */
  async swapPending(next: RecordSnapshot): Promise<{ applied: boolean; before: RecordSnapshot | null }> {
    return this.swapWith(SWAP_PENDING, [this.key(next.recordId), this.pendingKey(next.recordId)], next);
  }

  /** For the look stored now: the look its changes are derived from, when their dispatch is not known to have finished. */
  async unfinished(stored: StoredSnapshot): Promise<{ before: RecordSnapshot | null } | null> {
    const kept = await this.redis.get(this.pendingKey(stored.recordId));
    if (!kept) return null;
    const pending = JSON.parse(kept) as { updatedMs?: unknown; before?: unknown };
    if (pending.updatedMs !== String(Date.parse(stored.lastUpdatedAt))) return null;
    return { before: typeof pending.before === 'string' ? (JSON.parse(pending.before) as RecordSnapshot) : null };
  }

  /** The changes of the look at `lastUpdatedAt` were dispatched. */
  async settle(recordId: string, lastUpdatedAt: string): Promise<void> {
    await SETTLE.run(this.redis, [this.pendingKey(recordId)], [String(Date.parse(lastUpdatedAt))]);
  }

  private async swapWith(script: LuaScript, keys: string[], next: RecordSnapshot): Promise<{ applied: boolean; before: RecordSnapshot | null }> {
    const updatedMs = Date.parse(next.lastUpdatedAt);
    if (Number.isNaN(updatedMs)) return { applied: false, before: null };
    const [applied, before] = (await script.run(this.redis, keys, [JSON.stringify({ ...next, updatedMs }), String(updatedMs), String(this.retentionDays * 86400)])) as [number, string | null];
    return { applied: applied === 1, before: before ? (JSON.parse(before) as RecordSnapshot) : null };
  }
}
