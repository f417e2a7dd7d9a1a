import type { RecordSnapshot } from '../domain/record-events';
import type { RedisConnection } from '../queues/connection';
import { recordTypeKey } from './keys';

type RecordType = RecordSnapshot['recordType'];

/**
 * Where the Primero poller stopped for each record type: the newest change it read, as Primero stamped it (ISO 8601).
 * The case cursor is the key the poller used when it read cases alone, so an upgrade neither re-reads nor skips cases.
 */
export class PollCursorStore {
  constructor(
    private readonly redis: RedisConnection,
    private readonly prefix: string,
  ) {}

  private key(type: RecordType): string {
    return recordTypeKey(this.prefix, type, 'poll', 'cursor');
  }

  /** Null before the first poll of that type. */
  async read(type: RecordType): Promise<string | null> {
    return this.redis.get(this.key(type));
  }

  async write(type: RecordType, cursor: string): Promise<void> {
    await this.redis.set(this.key(type), cursor);
  }
}
