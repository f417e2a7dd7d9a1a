import type { RedisConnection } from '../queues/connection';
import { gatewayKey } from './keys';

export interface AuditEntry {
  at: string;
  actor: string;
  action: string;
  target: string;
  detail?: Record<string, string | number | boolean | null>;
}

/** Every operator action (reveal, replay, discard, forget) with who and when. Capped, newest kept. */
export class AuditLog {
  constructor(
    private readonly redis: RedisConnection,
    private readonly prefix: string,
    private readonly maxEntries = 100_000,
  ) {}

  private key(): string {
    return gatewayKey(this.prefix, 'audit');
  }

  async record(entry: Omit<AuditEntry, 'at'>): Promise<void> {
    const full: AuditEntry = { at: new Date().toISOString(), ...entry };
    await this.redis.multi().lpush(this.key(), JSON.stringify(full)).ltrim(this.key(), 0, this.maxEntries - 1).exec();
  }

  async recent(limit = 100): Promise<AuditEntry[]> {
    return (await this.redis.lrange(this.key(), 0, limit - 1)).map((r) => JSON.parse(r) as AuditEntry);
  }
}
