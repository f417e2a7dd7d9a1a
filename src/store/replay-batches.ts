import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { gatewayKey } from './keys';

/** The dead letters a dry run counted, and the filter that found them (for the audit entry of the replay). */
export interface ReplayBatch {
  filter: Record<string, string>;
  ids: string[];
}

/** Long enough to read the count and confirm on a phone; after that the count is stale and is taken again. */
const TTL_SECONDS = 15 * 60;
const BATCH_ID = /^[A-Za-z0-9_-]{32}$/;

/**
 * What a dry run counted, kept under a random id for its confirmation: the confirmation replays those, not what the
 * filter matches by then (ages shift, new dead letters arrive). Deleted once its replay has walked every id without a
 * failure (a second post of the same form then finds nothing), else by its TTL.
 */
export class ReplayBatches {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(id: string): string {
    return gatewayKey(this.prefix, 'console-replay-batch', id);
  }

  async keep(batch: ReplayBatch): Promise<string> {
    const id = randomBytes(24).toString('base64url');
    await this.redis.set(this.key(id), JSON.stringify(batch), 'EX', TTL_SECONDS);
    return id;
  }

  async get(id: string): Promise<ReplayBatch | null> {
    if (!BATCH_ID.test(id)) return null;
    const stored = await this.redis.get(this.key(id));
    return stored === null ? null : (JSON.parse(stored) as ReplayBatch);
  }

  async end(id: string): Promise<void> {
    if (BATCH_ID.test(id)) await this.redis.del(this.key(id));
  }
}
