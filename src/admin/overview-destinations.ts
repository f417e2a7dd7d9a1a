import type { Config } from '../config';
import type { QueuePauseRecord } from '../store/destination-status';
import type { DestinationName, DestinationState, QueuePause } from './overview-types';

/**
 * The settings that say which destinations this deployment calls: none of them a secret, so an operator's shell or
 * an API container without the workers' tokens lists the same destinations.
 */
export type DestinationConfig = Pick<Config, 'RAPIDPRO_URL' | 'RAPIDPRO_NOTIFY_FLOW_UUID' | 'VAPID_PUBLIC_KEY' | 'VAPID_SUBJECT' | 'WHATSAPP_PHONE_NUMBER_ID'>;

const ALL: readonly DestinationName[] = ['primero', 'rapidpro', 'push', 'whatsapp'];

/** Primero always; the others when their public settings are given (their workers also need the secrets). */
export function configuredDestinations(c: DestinationConfig): DestinationName[] {
  const on: Record<DestinationName, boolean> = {
    primero: true,
    rapidpro: !!(c.RAPIDPRO_URL && c.RAPIDPRO_NOTIFY_FLOW_UUID),
    push: !!(c.VAPID_PUBLIC_KEY && c.VAPID_SUBJECT),
    whatsapp: !!c.WHATSAPP_PHONE_NUMBER_ID,
  };
  return ALL.filter((d) => on[d]);
}

/** The configured ones, and any other whose queue is paused or holds jobs: the reader's settings may not be the workers'. */
export function listedDestinations(configured: readonly DestinationName[], inUse: ReadonlySet<DestinationName>): DestinationName[] {
  return ALL.filter((d) => configured.includes(d) || inUse.has(d));
}

const LABELS: Readonly<Record<DestinationName, string>> = { primero: 'Primero', rapidpro: 'RapidPro', push: 'The push service', whatsapp: 'WhatsApp' };

/**
 * The status class of a retried job's last failure, in fixed words: the failure text (the clients' own
 * "<service> answered 503 on …", "<service> did not answer … (ETIMEDOUT)") is only matched, never shown.
 */
export function retryReason(destination: DestinationName, failedReason: string | undefined): string | null {
  if (!failedReason) return null;
  const status = /\banswered (\d)\d\d\b/.exec(failedReason)?.[1];
  if (status) return `${LABELS[destination]} answers ${status}xx`;
  if (/\b(ETIMEDOUT|ECONNABORTED|ESOCKETTIMEDOUT|timeout)\b/i.test(failedReason)) return 'timeouts';
  if (/did not answer|answered nothing/.test(failedReason)) return `${LABELS[destination]} does not answer`;
  return null;
}

/** What the overview knows of one destination's queues: their pauses in force, and a retried job's last failure. */
export interface DestinationEvidence {
  pauses: ReadonlyMap<string, QueuePauseRecord>;
  /** The last failure of a retried job waiting in one of its queues ('' when it has no text); null when none waits. */
  retriedFailure: string | null;
}

/** Configuration faults first (a person must act), then the pause that lasts longest. */
function pausesInOrder(pauses: ReadonlyMap<string, QueuePauseRecord>, now: number): QueuePause[] {
  return [...pauses]
    .sort(([, a], [, b]) => (a.cause === b.cause ? b.remainingMs - a.remainingMs : a.cause === 'configuration' ? -1 : 1))
    .map(([queue, p]) => ({ queue, cause: p.cause, reason: p.reason, resumesAt: new Date(now + p.remainingMs).toISOString() }));
}

/**
 * Paused while any of its queues is (naming the first in pausesInOrder, resuming when the last does); retrying while a
 * job of it waits for another attempt; healthy otherwise. `now` is the overview's own time: resumesAt minus
 * generatedAt is exactly what is left of a pause.
 */
export function stateOf(destination: DestinationName, evidence: DestinationEvidence, now: number): DestinationState {
  const pauses = pausesInOrder(evidence.pauses, now);
  const first = pauses[0];
  if (first) {
    const longest = Math.max(...[...evidence.pauses.values()].map((p) => p.remainingMs));
    return { destination, state: 'paused', reason: first.reason, resumesAt: new Date(now + longest).toISOString(), cause: first.cause, pauses };
  }
  if (evidence.retriedFailure !== null) return { destination, state: 'retrying', reason: retryReason(destination, evidence.retriedFailure), resumesAt: null, cause: null, pauses: [] };
  return { destination, state: 'healthy', reason: null, resumesAt: null, cause: null, pauses: [] };
}
