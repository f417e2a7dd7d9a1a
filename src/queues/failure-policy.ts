import { RateLimitError, UnrecoverableError, type Queue } from 'bullmq';
import { DeliveryError } from '../clients/delivery-error';
import type { Logger } from '../logger';

/**
 * Turns a failed call into BullMQ's vocabulary, the same way for every destination:
 * - permanent → dead letter now, with the destination's own reason (this includes a Primero 403 on one
 *   record: that record is out of scope, the others are not, so nothing pauses);
 * - configuration (a 401, or a 403 on a call naming no record) → pause the whole queue and shout: every
 *   job would fail the same way;
 * - 429/503 with Retry-After → the destination is saturated for everyone: pause the queue that long;
 * - anything else → rethrow, and the backoff policy retries this job.
 */
export async function rethrowForQueue(err: unknown, queue: Queue, logger: Logger, authFailurePauseMs: number): Promise<never> {
  if (!(err instanceof DeliveryError)) throw err;
  if (err.kind === 'permanent') throw new UnrecoverableError(err.message);
  if (err.kind === 'configuration') {
    logger.error(
      { queue: queue.name, service: err.service, status: err.status, pauseMs: authFailurePauseMs },
      `${err.service.toUpperCase()} CONFIGURATION FAULT: the credentials or the account's role are wrong; queue paused`,
    );
    await queue.rateLimit(authFailurePauseMs);
    throw new RateLimitError();
  }
  if (err.retryAfterMs !== null && (err.status === 503 || err.status === 429)) {
    await queue.rateLimit(err.retryAfterMs);
    throw new RateLimitError();
  }
  throw err;
}
