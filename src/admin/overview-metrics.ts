import type { Overview, PauseCause } from './overview-types';

const CAUSES: readonly PauseCause[] = ['configuration', 'retry_after'];

/**
 * Destination pauses and backlog ages, from the overview (labels are destination, cause and queue names only). One
 * series per cause, so an alert can page for a configuration fault and let a Retry-After pass.
 */
export function overviewLines(o: Overview): string[] {
  const now = Date.parse(o.generatedAt);
  const lines = [
    '# HELP gateway_destination_paused 1 while a queue of the destination is paused for the cause: configuration (a person must fix a setting) or retry_after (the destination asked the gateway to wait)',
    '# TYPE gateway_destination_paused gauge',
  ];
  for (const d of o.destinations) {
    for (const cause of CAUSES) lines.push(`gateway_destination_paused{destination="${d.destination}",cause="${cause}"} ${d.pauses.some((p) => p.cause === cause) ? 1 : 0}`);
  }
  lines.push('# HELP gateway_destination_pause_remaining_seconds Seconds until the last paused queue of the destination is called again (0 when none is paused)', '# TYPE gateway_destination_pause_remaining_seconds gauge');
  for (const d of o.destinations) {
    const left = d.resumesAt === null ? 0 : Math.max(0, Math.ceil((Date.parse(d.resumesAt) - now) / 1000));
    lines.push(`gateway_destination_pause_remaining_seconds{destination="${d.destination}"} ${left}`);
  }
  lines.push('# HELP gateway_queue_oldest_age_seconds Age since creation of the oldest waiting, prioritized or delayed job (0 when none waits)', '# TYPE gateway_queue_oldest_age_seconds gauge');
  for (const q of o.queues) lines.push(`gateway_queue_oldest_age_seconds{queue="${q.queue}"} ${q.oldestAgeSeconds ?? 0}`);
  return lines;
}
