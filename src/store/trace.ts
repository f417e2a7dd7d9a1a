import type { RedisConnection } from '../queues/connection';
import { gatewayKey } from './keys';
import { LuaScript } from './lua-script';

// Entries and the TTL in one step: a timeline never outlives its retention, whatever dies between two writes.
const APPEND = new LuaScript(`
redis.call('RPUSH', KEYS[1], unpack(ARGV, 2))
redis.call('EXPIRE', KEYS[1], ARGV[1])
`);

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
    await this.recordAll(reference, [{ event, detail, at }]);
  }

  /** Several steps at once, in this order (one round trip). */
  async recordAll(reference: string, steps: Array<{ event: string; detail?: TraceEvent['detail']; at?: Date }>): Promise<void> {
    if (!steps.length) return;
    const entries = steps.map(({ event, detail, at }): TraceEvent => ({ at: (at ?? new Date()).toISOString(), event, ...(detail ? { detail } : {}) }));
    await APPEND.run(this.redis, [this.key(reference)], [this.retentionDays * 86400, ...entries.map((e) => JSON.stringify(e))]);
  }

  async timeline(reference: string): Promise<TraceEvent[]> {
    const raw = await this.redis.lrange(this.key(reference), 0, -1);
    return raw.map((r) => JSON.parse(r) as TraceEvent).sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  }

  async remove(reference: string): Promise<number> {
    return this.redis.del(this.key(reference));
  }
}
