import type { Queue } from 'bullmq';
import type { RedisConnection } from '../queues/connection';

/** How many jobs of each waiting set are looked at, from the end that has waited longest: a scrape stays cheap at any backlog. */
export const BACKLOG_SCAN = 200;

/** A queue's waiting jobs as the overview needs them. */
export interface BacklogScan {
  /** Creation time (ms) of the oldest job among those scanned; null when none waits. */
  oldestTimestamp: number | null;
  /** The last failure text of the first retried job by due time (matched for its status class, never shown); null when none. */
  retriedFailure: string | null;
  /** When the oldest dead letter failed (ms; the failed set's score is its finish time); null when there is none. */
  oldestFailedAt: number | null;
}

// The oldest job is the minimum of each job hash's `timestamp` (its creation): a retried job moved to the delayed set
// keeps it, and neither the delayed set (due time) nor the prioritized set (priority) is ordered by it. The waiting
// list's tail has waited longest. Only `timestamp`, `atm` and one `failedReason` are read, never a payload.
// KEYS: wait, prioritized, delayed, failed. ARGV: the job key prefix, the scan cap.
const SCAN = `
local cap = tonumber(ARGV[2])
local oldest = false
local failure = false
local function look(id, delayed)
  local f = redis.call('HMGET', ARGV[1] .. id, 'timestamp', 'atm')
  local t = tonumber(f[1])
  if t and (not oldest or t < oldest) then oldest = t end
  if delayed and not failure and tonumber(f[2] or '0') > 0 then
    failure = redis.call('HGET', ARGV[1] .. id, 'failedReason') or ''
  end
end
for _, id in ipairs(redis.call('LRANGE', KEYS[1], -cap, -1)) do look(id, false) end
for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, cap - 1)) do look(id, false) end
for _, id in ipairs(redis.call('ZRANGE', KEYS[3], 0, cap - 1)) do look(id, true) end
local failed = redis.call('ZRANGE', KEYS[4], 0, 0, 'WITHSCORES')[2] or ''
return {oldest and tostring(oldest) or '', failure or false, failed}
`;

/** One round trip per queue, on the operator services' connection (BullMQ's own key names, read only). */
export async function scanBacklog(redis: Pick<RedisConnection, 'eval'>, queue: Queue): Promise<BacklogScan> {
  const { wait, prioritized, delayed, failed } = queue.keys;
  const [oldest, failure, failedAt] = (await redis.eval(SCAN, 4, wait!, prioritized!, delayed!, failed!, queue.toKey(''), BACKLOG_SCAN)) as [string, string | null, string];
  const ms = (text: string) => (text === '' ? null : Number(text));
  return { oldestTimestamp: ms(oldest), retriedFailure: failure ?? null, oldestFailedAt: ms(failedAt) };
}
