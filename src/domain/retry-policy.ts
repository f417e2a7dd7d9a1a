export interface RetryPolicy {
  baseMs: number;
  maxMs: number;
}

/**
 * Exponential backoff with "equal jitter", capped: attempt 1 waits about base, each next one twice as long,
 * until the cap. With the defaults (5 s base, 30 min cap, 30 attempts) a job keeps trying for about 11 hours,
 * so a Primero outage over a night does not turn messages into dead letters. A server's Retry-After is a
 * floor, never shortened.
 */
export function retryDelayMs(attemptsMade: number, policy: RetryPolicy, retryAfterMs: number | null, random: () => number = Math.random): number {
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attemptsMade - 1));
  const jittered = Math.round(exp / 2 + (random() * exp) / 2);
  return Math.max(jittered, retryAfterMs ?? 0);
}
