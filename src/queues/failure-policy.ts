import { RateLimitError, UnrecoverableError, type Queue } from 'bullmq';
import { DeliveryError } from '../clients/delivery-error';
import type { Logger } from '../logger';
import { settlesMaybeSent } from './jobs';
import { destinationOf, type DestinationStatusStore, type PauseNote } from '../store/destination-status';

/** How each service is named in a pause's reason, by a DeliveryError's service (a client's constant). */
const SERVICE_LABELS: Readonly<Record<string, string>> = { Primero: 'Primero', primero: 'Primero', RapidPro: 'RapidPro', rapidpro: 'RapidPro', WhatsApp: 'WhatsApp', 'Push service': 'The push service' };
/** What each service refused when it answers 401/403 to a call naming no record. */
const CREDENTIALS: Readonly<Record<string, string>> = { Primero: "the API user's credentials", RapidPro: 'the API token', WhatsApp: 'the access token', 'The push service': 'the VAPID credentials' };

/** The configured address, not the credentials, is wrong (the client said so: src/clients/primero.ts classify). */
const isAddressFault = (err: DeliveryError): boolean => err.hint?.is === 'wrong_address';

/** Why a queue is paused, in fixed words: the service and the status number, never anything the upstream said. */
export function pauseReason(err: DeliveryError): string {
  const who = SERVICE_LABELS[err.service] ?? 'The destination';
  const status = Number.isInteger(err.status) ? ` (${err.status})` : '';
  if (err.kind !== 'configuration') return `${who} asked the gateway to wait${status}`;
  if (isAddressFault(err)) return `${who} is not at the configured address${status}`;
  // A Primero 403 on such a call is the API user's role (its credentials were accepted).
  const role = who === 'Primero' && err.status === 403 ? ' or role' : '';
  return `${who} refused ${CREDENTIALS[who] ?? "the gateway's credentials"}${role}${status}`;
}

/**
 * Where each worker queue handle records its pauses for the operator's overview, set when the worker's services
 * are wired: the failure policy is called from every processor with only the queue in hand.
 */
const pauseRecords = new WeakMap<Queue, DestinationStatusStore>();
/** Destination queues already reported as pausing unrecorded: said once per queue name, not at every pause. */
const unrecorded = new Set<string>();

export function recordPausesOf(queue: Queue, store: DestinationStatusStore): void {
  pauseRecords.set(queue, store);
}

/**
 * Stops the workers of `queue` taking jobs for `pauseMs`, and records the pause (its reason and cause) for the
 * overview. The record is best effort: the pause itself is what keeps jobs safe. A destination queue handle built
 * without recordPausesOf pauses unseen by the overview: that is logged, once.
 */
export async function pauseQueue(queue: Queue, pauseMs: number, note: PauseNote, logger: Logger): Promise<void> {
  const store = pauseRecords.get(queue);
  if (!store && destinationOf(queue.name) && !unrecorded.has(queue.name)) {
    unrecorded.add(queue.name);
    logger.warn({ queue: queue.name }, 'this queue handle has no pause record store: its pauses are missing from the overview and /metrics');
  }
  // The pause first, then its record: a process dying between the two leaves a pause the overview misses (the next
  // refused job pauses and records again), never a record of a pause that was not made. The record outlives the
  // limiter by the one round trip between them. A failed record leaves the overview without the pause; the pause stands.
  await queue.rateLimit(pauseMs);
  if (store) await store.recordPause(queue.name, note, pauseMs).catch(() => undefined);
}

/**
 * Turns a failed call into BullMQ's vocabulary, the same way for every destination:
 * - maybe sent (the answer was lost after the request left) on a queue whose call is a message to a person
 *   (`afterMaybeSent` in the catalogue: WhatsApp and Africa's Talking replies, RapidPro status flow starts) → dead
 *   letter now, saying it may have gone out: a retry could reach the person twice. Elsewhere it is retried as below;
 * - permanent → dead letter now, with the destination's own reason (this includes a Primero 403 on one
 *   record: that record is out of scope, the others are not, so nothing pauses);
 * - configuration (a 401, or a 403 on a call naming no record) → pause the whole queue and shout: every
 *   job would fail the same way;
 * - 429/503 with Retry-After → the destination is saturated for everyone: pause the queue that long;
 * - anything else → rethrow, and the backoff policy retries this job.
 */
export async function rethrowForQueue(err: unknown, queue: Queue, logger: Logger, authFailurePauseMs: number): Promise<never> {
  if (!(err instanceof DeliveryError)) throw err;
  if (err.hint?.is === 'maybe_sent' && settlesMaybeSent(queue.name)) {
    logger.warn({ queue: queue.name, service: err.service, status: err.status }, 'message to the person not confirmed: the provider may have taken it, so it is not sent again');
    throw new UnrecoverableError(`not sent again, it may have gone out: ${err.message}`);
  }
  if (err.kind === 'permanent') throw new UnrecoverableError(err.message);
  if (err.kind === 'configuration') {
    // Said once the pause is in place, and said (as not paused) even when pausing failed.
    let paused = false;
    try {
      await pauseQueue(queue, authFailurePauseMs, { reason: pauseReason(err), cause: 'configuration' }, logger);
      paused = true;
    } finally {
      logger.error(
        { queue: queue.name, service: err.service, status: err.status, pauseMs: authFailurePauseMs, detail: err.message },
        `${err.service.toUpperCase()} CONFIGURATION FAULT: ${isAddressFault(err) ? 'the address is wrong' : "the credentials or the account's role are wrong"}; ${paused ? 'queue paused' : 'the queue could not be paused'}`,
      );
    }
    throw new RateLimitError();
  }
  if (err.retryAfterMs !== null && (err.status === 503 || err.status === 429)) {
    await pauseQueue(queue, err.retryAfterMs, { reason: pauseReason(err), cause: 'retry_after' }, logger);
    throw new RateLimitError();
  }
  throw err;
}
