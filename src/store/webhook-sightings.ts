import type { RedisConnection } from '../queues/connection';
import { gatewayKey } from './keys';

// Long enough to cover the poller's widest usual window (its first look goes a day back); trimmed on every write.
const KEEP_MS = 2 * 86_400_000;

/**
 * Which record changes (record id and `last_updated_at`, nothing else) Primero's webhooks announced for
 * cases the poller's search can return (written by the events worker, for cases the gateway created or could
 * read), so the poller can tell an empty answer for a window with changes in it (Primero turns a failed
 * query into an empty 200) from a quiet one. One sorted set scored by the change's time; every write drops what is older
 * than two days and renews the key's expiry, so it ends by itself when webhooks stop.
 */
export class WebhookSightings {
  constructor(
    private readonly redis: RedisConnection,
    private readonly prefix: string,
  ) {}

  private key(): string {
    return gatewayKey(this.prefix, 'poll', 'webhook-seen');
  }

  async record(recordId: string, lastUpdatedAt: string, now = Date.now()): Promise<void> {
    const at = Date.parse(lastUpdatedAt);
    if (Number.isNaN(at)) return;
    await this.redis
      .multi()
      .zadd(this.key(), at, `${recordId}@${lastUpdatedAt}`)
      .zremrangebyscore(this.key(), '-inf', now - KEEP_MS)
      .pexpire(this.key(), KEEP_MS)
      .exec();
  }

  /** How many announced changes fall in [from, to]. */
  async countBetween(from: string, to: string): Promise<number> {
    return this.redis.zcount(this.key(), Date.parse(from), Date.parse(to));
  }
}
