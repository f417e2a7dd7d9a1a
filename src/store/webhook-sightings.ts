import type { RecordSnapshot } from '../domain/record-events';
import type { RedisConnection } from '../queues/connection';
import { recordTypeKey } from './keys';

type RecordType = RecordSnapshot['recordType'];

// Long enough to cover the poller's widest usual window (its first look goes a day back); trimmed on every write.
const KEEP_MS = 2 * 86_400_000;

/**
 * Which record changes (record id and `last_updated_at`, nothing else) Primero's webhooks announced for
 * records the poller's search can return (written by the events worker, for records the gateway created or could
 * read), so the poller can tell an empty answer for a window with changes in it (Primero turns a failed
 * query into an empty 200) from a quiet one. One sorted set per record type, as each type is its own search (a
 * changed case says nothing of an empty incidents answer), scored by the change's time; every write drops what is
 * older than two days and renews the key's expiry, so it ends by itself when webhooks stop.
 */
export class WebhookSightings {
  constructor(
    private readonly redis: RedisConnection,
    private readonly prefix: string,
  ) {}

  private key(type: RecordType): string {
    return recordTypeKey(this.prefix, type, 'poll', 'webhook-seen');
  }

  async record(type: RecordType, recordId: string, lastUpdatedAt: string, now = Date.now()): Promise<void> {
    const at = Date.parse(lastUpdatedAt);
    if (Number.isNaN(at)) return;
    const key = this.key(type);
    await this.redis
      .multi()
      .zadd(key, at, `${recordId}@${lastUpdatedAt}`)
      .zremrangebyscore(key, '-inf', now - KEEP_MS)
      .pexpire(key, KEEP_MS)
      .exec();
  }

  /** How many announced changes to records of `type` fall in [from, to]. */
  async countBetween(type: RecordType, from: string, to: string): Promise<number> {
    return this.redis.zcount(this.key(type), Date.parse(from), Date.parse(to));
  }
}
