import type { Logger } from '../logger';
import type { SharedCounters } from '../store/counters';
import type { ReferenceStore } from '../store/references';
import type { SnapshotStore } from '../store/snapshots';
import type { TraceStore } from '../store/trace';
import { tracedReason } from '../notifications/unverified-starts';
import { holdingReason } from './holding-reason';

export interface ReplyGateDeps {
  /** The reference's link, read when the reply is sent: what was said about the phone since it was queued counts. */
  references: Pick<ReferenceStore, 'get'>;
  /** The record's last look, read when the reply is sent: one that could not confirm the safe-to-contact answer holds it. */
  snapshots: Pick<SnapshotStore, 'get'>;
  trace: TraceStore;
  counters: SharedCounters;
  logger: Logger;
}

/** What a queued reply says about its record: its reference, and whether it was chosen for a sensitive report. */
export interface QueuedReply {
  reference: string | null;
  /** Absent from a reply an earlier build queued: its words were chosen as that build chose them. */
  sensitive?: boolean;
  /** When it was queued (ms): a look since then that could not confirm the answer holds only a record that existed then. */
  queuedAt: number;
}

/**
 * An acknowledgement queued earlier (the queue paused, or backing off after a refusal) names its record; it is held
 * back when, since, the person was said not safe to contact, the record turned out to be protected as sensitive
 * (a sensitive report's own acknowledgement, chosen for it, still goes), or the record's last look could not
 * confirm the safe-to-contact answer: read when it is sent, as status messages are (workers/rapidpro-notify.ts).
 * A new report's link may not exist yet (the intake worker makes it): nothing was said about it, so it goes as
 * before, and so does a new report's acknowledgement when a look after its record was made could not confirm the
 * answer (nothing was said against it: it would have gone, sent on time). A reply naming no record (STOP, START, a
 * STATUS answer) is never held here. The trace, the log line and the job's result say `held_back`, whatever the
 * reason: any operator reads those, and the reason tells the person's answer; only the counter, which names no
 * reference, keeps it. Returns the job's result when held, else null.
 */
export async function heldBackReply(deps: ReplyGateDeps, queue: string, reply: QueuedReply): Promise<string | null> {
  const { reference } = reply;
  if (reference === null) return null;
  const link = await deps.references.get(reference);
  if (!link) return null;
  // A link with no readable creation time (an earlier build's) is taken as older than the reply: the safe side.
  const created = Date.parse(link.createdAt);
  const why = await holdingReason(link, deps.snapshots, { chosenForSensitive: reply.sensitive !== false, unconfirmedCounts: Number.isNaN(created) || created < reply.queuedAt });
  if (!why) return null;
  // Not best effort: a trace that fails fails the job, whose retry holds the reply again and traces (and counts) it then.
  await deps.trace.record(reference, 'reply_skipped', { queue, reason: tracedReason(why) });
  deps.counters.increment('gateway_replies_skipped_total', { queue, reason: why });
  deps.logger.info({ reference, queue, reason: tracedReason(why) }, 'reply skipped: what the record says now forbids it');
  return `skipped-${tracedReason(why)}`;
}
