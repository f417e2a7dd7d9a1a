import { randomBytes } from 'node:crypto';
import type { RedisConnection } from '../queues/connection';
import { gatewayKey } from './keys';

/** The dead letters a dry run counted, and the filter that found them (for the audit entry of the replay). */
export interface ReplayBatch {
  filter: Record<string, string>;
  ids: string[];
}

/** A batch as its confirmation finds it: the ids still to replay (those replayed or gone are taken out as it goes). */
export interface PendingBatch {
  filter: Record<string, string>;
  counted: number;
  pending: string[];
}

/** Long enough to read the count and confirm on a phone; after that the count is stale and is taken again. */
const TTL_SECONDS = 15 * 60;
/** One confirmation walks a batch at a time, for as long as the batch lives (a walk of many ids can take minutes). */
const WALK_LEASE_MS = TTL_SECONDS * 1000;
// Only the walker holding the lease ends it: one whose lease lapsed must not end the next walker's.
const RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";
const BATCH_ID = /^[A-Za-z0-9_-]{32}$/;

/**
 * What a dry run counted, kept under a random id for its confirmation: the confirmation replays those, not what the
 * filter matches by then (ages shift, new dead letters arrive). Three keys per batch, all ended by the TTL if not
 * before: `<id>` (the filter and the count), `<id>:pending` (a set of the ids not yet replayed or found gone, each
 * taken out as it settles, so a second confirmation walks only what the first could not move) and `<id>:walking`
 * (the lease of the one confirmation walking it). A walk that leaves nothing pending deletes all three.
 */
export class ReplayBatches {
  constructor(
    private readonly redis: RedisConnection,
    private readonly prefix: string,
  ) {}

  private key(id: string, part?: 'pending' | 'walking'): string {
    return part ? gatewayKey(this.prefix, 'console-replay-batch', id, part) : gatewayKey(this.prefix, 'console-replay-batch', id);
  }

  async keep(batch: ReplayBatch): Promise<string> {
    const id = randomBytes(24).toString('base64url');
    const tx = this.redis.multi().set(this.key(id), JSON.stringify({ filter: batch.filter, counted: batch.ids.length }), 'EX', TTL_SECONDS);
    if (batch.ids.length) tx.sadd(this.key(id, 'pending'), ...batch.ids).expire(this.key(id, 'pending'), TTL_SECONDS);
    await tx.exec();
    return id;
  }

  async get(id: string): Promise<PendingBatch | null> {
    if (!BATCH_ID.test(id)) return null;
    const [stored, pending] = await Promise.all([this.redis.get(this.key(id)), this.redis.smembers(this.key(id, 'pending'))]);
    if (stored === null) return null;
    const { filter, counted } = JSON.parse(stored) as { filter: Record<string, string>; counted: number };
    return { filter, counted, pending: pending.sort() };
  }

  /** The right to walk the batch, or false while another confirmation walks it. */
  async lease(id: string): Promise<string | null> {
    if (!BATCH_ID.test(id)) return null;
    const token = randomBytes(16).toString('hex');
    return (await this.redis.set(this.key(id, 'walking'), token, 'PX', WALK_LEASE_MS, 'NX')) === 'OK' ? token : null;
  }

  async release(id: string, token: string): Promise<void> {
    await this.redis.eval(RELEASE, 1, this.key(id, 'walking'), token);
  }

  /** One id of the batch replayed or found gone: a later confirmation does not walk it again. */
  async settle(id: string, deadLetterId: string): Promise<void> {
    await this.redis.srem(this.key(id, 'pending'), deadLetterId);
  }

  async end(id: string): Promise<void> {
    if (BATCH_ID.test(id)) await this.redis.del(this.key(id), this.key(id, 'pending'), this.key(id, 'walking'));
  }
}
