import type { RedisConnection } from '../queues/connection';
import { gatewayKey } from './keys';

/** One counter's hash and field. */
export interface CounterField {
  key: string;
  field: string;
}

/**
 * Counters kept in Redis, so that workers in any process (or container) add to the same figures and
 * the API's /metrics shows them whole. Label values are queue names, outcomes and status classes only.
 */
export class SharedCounters {
  constructor(
    private readonly redis: RedisConnection,
    private readonly prefix: string,
  ) {}

  private key(): string {
    return gatewayKey(this.prefix, 'counters');
  }

  static field(name: string, labels: Record<string, string>): string {
    return `${name}|${Object.entries(labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(',')}`;
  }

  /** Where a counter lives, for a script that increments it inside a write it already makes (no round trip of its own). */
  locate(name: string, labels: Record<string, string>): CounterField {
    return { key: this.key(), field: SharedCounters.field(name, labels) };
  }

  /** Fire and forget: a metric must never fail the work it counts. */
  increment(name: string, labels: Record<string, string>): void {
    this.redis.hincrby(this.key(), SharedCounters.field(name, labels), 1).catch(() => undefined);
  }

  async all(): Promise<Array<{ name: string; labels: Record<string, string>; value: number }>> {
    const h = await this.redis.hgetall(this.key());
    return Object.entries(h).map(([field, value]) => {
      const [name, labelText] = field.split('|');
      const labels = Object.fromEntries((labelText ?? '').split(',').filter(Boolean).map((pair) => pair.split('=') as [string, string]));
      return { name: name!, labels, value: Number(value) };
    });
  }
}
