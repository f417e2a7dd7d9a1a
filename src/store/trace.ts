import type { RedisConnection } from '../queues/connection';
import { gatewayKey } from './keys';

/** One step in a message's life. `detail` holds ids and statuses only, never content. */
export interface TraceEvent {
  at: string;
  event: string;
  detail?: Record<string, string | number | boolean | null>;
}

/**
 * The timeline of one message, by reference: what an operator shows when asked "what happened to my
 * message?". Kept as long as the reference link.
 */
export class TraceStore {
  constructor(
    private readonly redis: RedisConnection,
    private readonly prefix: string,
    private readonly retentionDays: number,
  ) {}

  private key(reference: string): string {
    return gatewayKey(this.prefix, 'trace', reference);
  }

  async record(reference: string, event: string, detail?: TraceEvent['detail'], at: Date = new Date()): Promise<void> {
    const entry: TraceEvent = { at: at.toISOString(), event, ...(detail ? { detail } : {}) };
    const key = this.key(reference);
    await this.redis.multi().rpush(key, JSON.stringify(entry)).expire(key, this.retentionDays * 86400).exec();
  }

  async timeline(reference: string): Promise<TraceEvent[]> {
    const raw = await this.redis.lrange(this.key(reference), 0, -1);
    return raw.map((r) => JSON.parse(r) as TraceEvent).sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  }

  async remove(reference: string): Promise<number> {
    return this.redis.del(this.key(reference));
  }
}
