import { randomUUID } from 'node:crypto';
import { UnrecoverableError, type Job } from 'bullmq';
import { DeliveryError } from '../clients/delivery-error';
import type { Logger } from '../logger';
import type { SharedCounters } from '../store/counters';
import type { SendClaims } from '../store/send-claims';
import type { TraceStore } from '../store/trace';

export interface SendOnceDeps {
  claims: SendClaims;
  counters: SharedCounters;
  trace: TraceStore;
  logger: Logger;
}

/** It went out now (`sent`), or an earlier attempt of the same job had sent it. */
export type SendOnceResult = 'sent' | 'already-sent';

/** How a "not confirmed" dead letter's reason begins: a replay skips these, only an audited resend sends them. */
const NOT_CONFIRMED_REASON = 'not sent again, it may have gone out';

/** A dead letter held as "not confirmed": its message may have reached the person. */
export const isNotConfirmed = (job: Job): boolean => (job.failedReason ?? '').startsWith(NOT_CONFIRMED_REASON);

/**
 * Settles a message that may have reached the person as "not confirmed": counted, traced and kept as a dead letter
 * that says so, never sent again. Words, the queue and a status only: never the address or the text.
 */
export function notConfirmed(deps: SendOnceDeps, job: Job, reference: string | null, err: DeliveryError | null): never {
  deps.counters.increment('gateway_messages_not_confirmed_total', { queue: job.queueName });
  if (reference) deps.trace.record(reference, 'message_not_confirmed', { queue: job.queueName }).catch(() => undefined);
  deps.logger.warn(
    { reference, queue: job.queueName, status: err?.status ?? null },
    'message to the person not confirmed: the provider may have taken it, so it is not sent again',
  );
  const why = err ? err.message : 'an earlier attempt began the send and never learnt its outcome';
  throw new UnrecoverableError(`${NOT_CONFIRMED_REASON}: ${why}`);
}

/**
 * Sends one message to a person at most once, whatever happens to the job around it: the claim (it lives in the job,
 * which its retries, stalled re-runs and replays keep) is taken before the send and marked sent after it. A
 * failure hinted `maybe_sent` keeps the claim and settles as not confirmed; any other failure proves nothing went
 * out, so the claim is given back and the error goes on to the queue's failure policy (retry, dead letter or pause).
 * An attempt that finds its own job's claim never sends.
 */
export async function sendOnce(deps: SendOnceDeps, job: Job, reference: string | null, send: () => Promise<unknown>): Promise<SendOnceResult> {
  const owner = randomUUID();
  const held = await deps.claims.claim(job, owner);
  if (held?.state === 'sent') return 'already-sent';
  if (held) return notConfirmed(deps, job, reference, null);
  try {
    await send();
  } catch (err) {
    if (err instanceof DeliveryError && err.hint?.is === 'maybe_sent') return notConfirmed(deps, job, reference, err);
    // Not given back (Redis away): the next attempt reads it as not confirmed; the refusal itself still decides now.
    await deps.claims.release(job, owner).catch((releaseErr: unknown) =>
      deps.logger.warn({ reference, queue: job.queueName, error: (releaseErr as Error).message }, 'send claim not given back after a failed send'),
    );
    throw err;
  }
  // A mark that fails leaves the claim as `claimed`: a later attempt settles as not confirmed, never sends again.
  await deps.claims.markSent(job, owner).catch(() => undefined);
  return 'sent';
}
