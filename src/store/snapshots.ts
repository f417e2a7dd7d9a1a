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

  async get(recordId: string): Promise<StoredSnapshot | null> {
    const stored = await this.redis.get(this.key(recordId));
    return stored ? (JSON.parse(stored) as StoredSnapshot) : null;
  }

  /**
   * Stores `next` if it is newer than what is stored. Returns `{ applied, before }`: `applied` false means
   * this change was already seen (or is older), and nothing should be derived from it.
   */
  async swap(next: RecordSnapshot): Promise<{ applied: boolean; before: RecordSnapshot | null }> {
    const updatedMs = Date.parse(next.lastUpdatedAt);
    if (Number.isNaN(updatedMs)) return { applied: false, before: null };
    const [applied, before] = (await SWAP.run(this.redis, [this.key(next.recordId)], [JSON.stringify({ ...next, updatedMs }), String(updatedMs), String(this.retentionDays * 86400)])) as [number, string | null];
    return { applied: applied === 1, before: before ? (JSON.parse(before) as RecordSnapshot) : null };
  }
}
