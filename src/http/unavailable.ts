import type { Logger } from '../logger';
import { QueueUnavailableError, ReplicationUnconfirmedError } from '../queues/deadline';
import { ReferenceTakenError } from '../store/acceptances';
import { HttpError } from './errors';

/** Runs the storing step of a webhook; when Redis is away the provider gets 503 and keeps its message. */
export async function storeOr503<T>(logger: Logger, channel: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (!(err instanceof QueueUnavailableError)) throw err;
    if (err instanceof ReplicationUnconfirmedError) {
      logger.error({ err: err.cause ?? err, channel }, 'message stored, replication unconfirmed: a repeat is answered with its reference');
      throw new HttpError(503, 'unavailable', 'The message may be stored, but no replica confirmed it in time. Send it again: a repeat is answered with the same reference.', [], { 'Retry-After': '5' });
    }
    if (err instanceof ReferenceTakenError) {
      // Redis answered: the references it handed out were issued before (the counter went back). Not an outage.
      logger.warn({ channel }, 'message not stored: every reference tried was already issued (the reference counter went back)');
    } else {
      logger.error({ err: err.cause ?? err, channel }, 'message not stored: Redis unavailable');
    }
    throw new HttpError(503, 'unavailable', 'The gateway cannot store messages right now; nothing was stored. Try again shortly.', [], { 'Retry-After': '5' });
  }
}
