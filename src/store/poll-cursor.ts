import type { RedisConnection } from '../queues/connection';
import { gatewayKey } from './keys';

/** Where the Primero poller stopped: the newest change it read, as Primero stamped it (ISO 8601). */
export class PollCursorStore {
  private readonly key: string;

  constructor(
    private readonly redis: RedisConnection,
    prefix: string,
  ) {
    this.key = gatewayKey(prefix, 'poll', 'cursor');
  }

  /** Null before the first poll. */
  async read(): Promise<string | null> {
    return this.redis.get(this.key);
  }

  async write(cursor: string): Promise<void> {
    await this.redis.set(this.key, cursor);
  }
}
