export class QueueUnavailableError extends Error {
  override readonly name: string = 'QueueUnavailableError';
}

/**
 * Stored and confirmed on the primary, but fewer replicas than REDIS_MIN_REPLICAS_ACK acknowledged it in time: the
 * one 503 that cannot say "nothing was stored" (a failover may lose the message, or it is processed).
 */
export class ReplicationUnconfirmedError extends QueueUnavailableError {
  override readonly name = 'ReplicationUnconfirmedError';
}

/** The deadline passed with the work still pending (as opposed to Redis refusing it). */
export class DeadlinePassedError extends QueueUnavailableError {
  override readonly name = 'DeadlinePassedError';
}

/**
 * Runs a Redis write on the HTTP path with a deadline: when Redis is away or stuck, the caller answers 503
 * (nothing acknowledged) instead of holding the provider's connection open.
 */
export async function withinDeadline<T>(work: () => Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlinePassedError('Redis did not answer in time')), ms);
  });
  try {
    return await Promise.race([work(), deadline]);
  } catch (err) {
    if (err instanceof QueueUnavailableError) throw err;
    throw new QueueUnavailableError('Redis is unavailable', { cause: err });
  } finally {
    clearTimeout(timer);
  }
}
