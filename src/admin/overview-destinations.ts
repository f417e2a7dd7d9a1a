import type { Queue } from 'bullmq';
import type { Config } from '../config';
import { DESTINATION_QUEUES, type DestinationPause, type DestinationStatusStore } from '../store/destination-status';
import type { DestinationName, DestinationState } from './overview-types';

/** The settings that say which destinations this deployment calls. */
export type DestinationConfig = Pick<
  Config,
  'RAPIDPRO_URL' | 'RAPIDPRO_TOKEN' | 'RAPIDPRO_NOTIFY_FLOW_UUID' | 'VAPID_PUBLIC_KEY' | 'VAPID_PRIVATE_KEY' | 'VAPID_SUBJECT' | 'WHATSAPP_ACCESS_TOKEN' | 'WHATSAPP_PHONE_NUMBER_ID'
>;

/** Primero always; the others only when configured (the same conditions their workers are enabled on). */
export function configuredDestinations(c: DestinationConfig): DestinationName[] {
  const on: Array<[DestinationName, boolean]> = [
    ['primero', true],
    ['rapidpro', !!(c.RAPIDPRO_URL && c.RAPIDPRO_TOKEN && c.RAPIDPRO_NOTIFY_FLOW_UUID)],
    ['push', !!(c.VAPID_PUBLIC_KEY && c.VAPID_PRIVATE_KEY && c.VAPID_SUBJECT)],
    ['whatsapp', !!(c.WHATSAPP_ACCESS_TOKEN && c.WHATSAPP_PHONE_NUMBER_ID)],
  ];
  return on.filter(([, enabled]) => enabled).map(([name]) => name);
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

/** A retried job of the destination waiting in the delayed set, if any: the first few by due time are enough to tell. */
const RETRY_SAMPLE = 50;

async function retriedJob(queues: readonly Queue[]): Promise<{ failedReason: string | undefined } | null> {
  for (const q of queues) {
    const delayed = await q.getJobs(['delayed'], 0, RETRY_SAMPLE - 1, true);
    const retried = delayed.find((job) => job.attemptsMade > 0);
    if (retried) return { failedReason: retried.failedReason };
  }
  return null;
}

/** Paused while a recorded pause lives; retrying while a job of it waits for another attempt; healthy otherwise. */
export function stateOf(destination: DestinationName, pause: DestinationPause | undefined, retried: { failedReason: string | undefined } | null, now: number): DestinationState {
  if (pause) return { destination, state: 'paused', reason: pause.reason, resumesAt: new Date(now + pause.remainingMs).toISOString() };
  if (retried) return { destination, state: 'retrying', reason: retryReason(destination, retried.failedReason), resumesAt: null };
  return { destination, state: 'healthy', reason: null, resumesAt: null };
}

/** `now` is the overview's own time: a pause's resumesAt minus generatedAt is exactly what is left of it. */
export async function destinationStates(destinations: readonly DestinationName[], queues: readonly Queue[], pauses: DestinationStatusStore, now: number): Promise<DestinationState[]> {
  const inForce = await pauses.pauses(destinations);
  return Promise.all(
    destinations.map(async (d) => {
      const own = queues.filter((q) => (DESTINATION_QUEUES[d] as readonly string[]).includes(q.name));
      return stateOf(d, inForce.get(d), inForce.has(d) ? null : await retriedJob(own), now);
    }),
  );
}
