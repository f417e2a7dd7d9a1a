import type { Queue } from 'bullmq';
import type { Logger } from '../logger';
import { SCHEDULED_QUEUES } from './jobs';

export interface RetentionPolicy {
  completedMs: number;
  /** Past this age a dead letter is overdue for review: reported, never deleted. */
  deadLetterMs: number;
}

/**
 * BullMQ only trims finished jobs lazily, when another job finishes; a quiet queue would keep completed
 * jobs (and their payloads) past their retention. This runs on a schedule and makes that retention real.
 * Dead letters are not purged: each is a message nobody has handled, and only an operator's replay or
 * discard ends one (the metrics `gateway_dead_letters` and `gateway_dead_letter_oldest_age_seconds` show
 * them). Removing a completed job does not shorten the idempotency window: the ledger holds that. `now`
 * dates the overdue check only (a test passes a later one instead of waiting); `clean` keeps Redis's clock.
 */
export async function purgeExpired(queues: Queue[], policy: RetentionPolicy, logger: Logger, now: number = Date.now()): Promise<Record<string, number>> {
  const removed: Record<string, number> = {};
  const overdueBefore = now - policy.deadLetterMs;
  for (const q of queues) {
    const completed = await q.clean(policy.completedMs, 10_000, 'completed');
    removed[q.name] = completed.length;
    const [oldest] = await q.getJobs(['failed'], 0, 0, true);
    if (!SCHEDULED_QUEUES.has(q.name) && oldest && (oldest.finishedOn ?? oldest.timestamp) < overdueBefore) {
      logger.warn({ queue: q.name, deadLetters: await q.getFailedCount() }, 'dead letters awaiting review past DEAD_LETTER_RETENTION_DAYS: replay or discard them');
    }
  }
  return removed;
}
