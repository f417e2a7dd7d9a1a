import type { JobsOptions } from 'bullmq';
import { sha256Hex } from '../domain/idempotency';
import { GATEWAY_BACKOFF } from './jobs';

export interface JobRetention {
  attempts: number;
  deadLetterRetentionDays: number;
  /** How long the same notification key is refused again. */
  dedupeWindowMs: number;
}

/** Options every notification job shares: our backoff, no trace once done, dead letters kept, one per key. */
export function notificationJobOptions(key: string, r: JobRetention): JobsOptions {
  return {
    attempts: r.attempts,
    backoff: { type: GATEWAY_BACKOFF },
    removeOnComplete: true,
    // Dead letters stay until an operator replays or discards them (DEAD_LETTER_RETENTION_DAYS only makes them overdue).
    removeOnFail: false,
    // Notification keys name references, record ids and device hashes, never a person: a plain hash will do.
    deduplication: { id: sha256Hex(key), ttl: r.dedupeWindowMs },
  };
}
