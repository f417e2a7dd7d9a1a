import type { NotificationPlan } from '../domain/notification-plan';
import type { SharedCounters } from '../store/counters';
import type { TraceStore } from '../store/trace';

/**
 * Every reason a message to the person is held back by a gate, said as one word in a reference's trace and log lines:
 * a "not safe" tells whoever reads them that someone else may hold the phone, and any reason left apart narrows the
 * word (the trace already shows whether a record is sensitive, so with "sensitive" alone folded in, `held_back` on an
 * ordinary record would mean "not safe"). The reasons that are only configuration (no channel, no address, no link)
 * go in too for the same cause; the counters, which name no reference, keep each apart.
 */
const REVEALING = new Set(['not_safe', 'sensitive', 'unverifiable', 'no_channel', 'no_address', 'unlinked']);

/** What a trace or a log line says of a held-back message: the exact reason only in counters, which name no reference. */
export const tracedReason = (reason: string): string => (REVEALING.has(reason) ? 'held_back' : reason);

/** A status message to the person not sent, and why (no personal data): in the record's trace and counted. */
export async function skippedStart(trace: TraceStore, counters: Pick<SharedCounters, 'increment'>, reference: string, status: string, reason: string): Promise<void> {
  counters.increment('gateway_flow_starts_skipped_total', { reason });
  await trace.record(reference, 'flow_start_skipped', { status, reason: tracedReason(reason) });
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
