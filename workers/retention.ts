import type { Queue } from 'bullmq';
import type { Logger } from '../src/logger';

export interface RetentionPolicy {
  completedMs: number;
  deadLetterMs: number;
}

/**
 * BullMQ only trims finished jobs lazily, when another job finishes; a quiet queue would keep dead
 * letters (and their payloads) past their retention. This runs on a schedule and makes retention real.
 */
export async function purgeExpired(queues: Queue[], policy: RetentionPolicy, logger: Logger): Promise<Record<string, number>> {
  const removed: Record<string, number> = {};
  for (const q of queues) {
    const failed = await q.clean(policy.deadLetterMs, 10_000, 'failed');
    const completed = await q.clean(policy.completedMs, 10_000, 'completed');
    removed[q.name] = failed.length + completed.length;
    if (failed.length) logger.info({ queue: q.name, deadLetters: failed.length }, 'dead letters past retention purged');
  }
  return removed;
}
