import type { RedisConnection } from '../queues/connection';
import { LuaScript } from './lua-script';
import { JobGoneError } from './send-claims';

/**
 * What a merged report's job knows of its words in the earlier record: added (`merged`); refused by Primero, so
 * certainly not in it (`refused`); perhaps in it, a write went out and may have landed (`sent`); or nothing sent.
 */
export type MergeState = 'merged' | 'refused' | 'sent' | 'none';

/** With `sent`, the record the write went to (its id; null when not named): a retry whose link is gone, or names another, cannot look there. */
export interface MergeProgress {
  state: MergeState;
  sentTo: string | null;
}

const FIELDS = { sent: 'gw:mergeSent', refused: 'gw:mergeRefused', merged: 'gw:merged' } as const;

// KEYS[1] the job's hash. A hash that is gone is never re-created (nothing would delete it): -1, and nothing is
// written to Primero. ARGV[1] is set to ARGV[2] ('' sets nothing), then ARGV[3..] are deleted, in one step.
const MARK = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if ARGV[1] ~= '' then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
for i = 3, #ARGV do redis.call('HDEL', KEYS[1], ARGV[i]) end
return 1
`);

/**
 * A merged report's marks, in fields of its job's own hash (as send claims are: src/store/send-claims.ts), so they
 * last exactly as long as the job, however long it waits as a dead letter. `sent` (naming the record) before each write
 * of the words to the earlier record, taken back when that write cannot have reached Primero; `refused` when Primero answered it 403
 * or 404 (nothing written: the words are filed alone from then on); `merged` once the record holds them. A retry
 * that meets a 403 after `sent` cannot tell whether the words are in the record, and must not file them again.
 */
export class MergeMarks {
  constructor(private readonly redis: RedisConnection) {}

  async progress(jobKey: string): Promise<MergeProgress> {
    const [sent, refused, merged] = await this.redis.hmget(jobKey, FIELDS.sent, FIELDS.refused, FIELDS.merged);
    const state: MergeState = merged ? 'merged' : refused ? 'refused' : sent ? 'sent' : 'none';
    // '1': written by a build that did not name the record; nothing says which record it went to.
    return { state, sentTo: state === 'sent' && sent && sent !== '1' ? sent : null };
  }

  /** Before a write of the words to the record `recordId`. */
  markSent = (jobKey: string, recordId: string) => this.mark(jobKey, FIELDS.sent, recordId);
  unmarkSent = (jobKey: string) => this.mark(jobKey, '', '', FIELDS.sent);
  markRefused = (jobKey: string) => this.mark(jobKey, FIELDS.refused, '1', FIELDS.sent);
  markMerged = (jobKey: string) => this.mark(jobKey, FIELDS.merged, '1');

  private async mark(jobKey: string, field: string, value: string, ...del: string[]): Promise<void> {
    if ((await MARK.run(this.redis, [jobKey], [field, value, ...del])) === -1) throw new JobGoneError();
  }
}
