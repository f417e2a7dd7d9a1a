import type { NotificationPlan } from '../domain/notification-plan';
import type { SharedCounters } from '../store/counters';
import type { TraceStore } from '../store/trace';

/** A status message to the person not sent, and why (no personal data): in the record's trace and counted. */
export async function skippedStart(trace: TraceStore, counters: Pick<SharedCounters, 'increment'>, reference: string, status: string, reason: string): Promise<void> {
  counters.increment('gateway_flow_starts_skipped_total', { reason });
  await trace.record(reference, 'flow_start_skipped', { status, reason });
}

/**
 * The plan without its status messages to the person, each one traced and counted as skipped: this look could not
 * confirm the person's safe-to-contact answer (see safeToContactConfirmed). The caseworkers' push alerts stay: they
 * carry no personal data and reach no one's phone but a caseworker's.
 */
export async function withoutUnverifiedStarts(plan: NotificationPlan, trace: TraceStore, counters: Pick<SharedCounters, 'increment'>): Promise<NotificationPlan> {
  for (const f of plan.flowStarts) await skippedStart(trace, counters, f.reference, f.status, 'unverifiable');
  return { ...plan, flowStarts: [] };
}
