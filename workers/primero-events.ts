import type { Job, Queue } from 'bullmq';
import type { PrimeroClient } from '../src/clients/primero';
import { originOf } from '../src/cases/record-origin';
import { planForRecordEvents, type PlanContext } from '../src/domain/notification-plan';
import { isRecordOutOfScope } from '../src/clients/delivery-error';
import { asSnapshot, deriveEvents, filledFrom, missingSnapshotFields, snapshotFieldNames, snapshotOf, withDisplayOf, type RecordEvent, type RecordLook, type RecordSnapshot, type StoredSnapshot } from '../src/domain/record-events';
import { safeToContactConfirmed } from '../src/domain/safe-to-contact-look';
import { followBodySafeToContact } from '../src/cases/safe-to-contact-body';
import { withoutUnverifiedStarts } from '../src/notifications/unverified-starts';
import type { Logger } from '../src/logger';
import type { NotificationDispatcher } from '../src/notifications/dispatcher';
import type { SharedCounters } from '../src/store/counters';
import type { ReferenceStore } from '../src/store/references';
import type { SnapshotStore } from '../src/store/snapshots';
import type { TraceStore } from '../src/store/trace';
import type { WebhookSightings } from '../src/store/webhook-sightings';
import { rethrowForQueue } from '../src/queues/failure-policy';
import { openJob } from '../src/queues/open-job';
import type { PayloadCodec } from '../src/security/payload-codec';
import type { JobData } from '../src/queues/jobs';
import type { NoteDetector } from '../src/replies/note-detector';

export interface PrimeroEventDeps {
  /** Opens the job's sealed fields (the look's safe-to-contact answers). */
  codec: PayloadCodec;
  snapshots: SnapshotStore;
  references: ReferenceStore;
  dispatcher: NotificationDispatcher;
  trace: TraceStore;
  plan: PlanContext;
  logger: Logger;
  primero: Pick<PrimeroClient, 'getRecord'>;
  queue: Queue;
  authFailurePauseMs: number;
  counters: SharedCounters;
  sightings: WebhookSightings;
  /** Queues a caseworker's notes to the person (null: two-way messages are not set up in this process). */
  notes: Pick<NoteDetector, 'detect'> | null;
  /** The record's "safe to contact" field, from the mapping of the intent it was created for (none: not asked). */
  safeFieldOf: (intent: string) => string | undefined;
}

/** A look ready to diff, and whether the API user could read the record in this job (null: no read needed). */
interface Completed {
  snapshot: StoredSnapshot;
  readable: boolean | null;
}

/** …and whether this look confirmed the person's safe-to-contact answer (unconfirmed: no status message goes out). */
type Checked = Completed & { safeConfirmed: boolean };


/**
 * A webhook body that lacked a field the diff reads says nothing about that field, and neither does a read
 * that lacks it (Primero returns only the requested fields this API user may read): each such field comes
 * from the read, else the body, else the stored look, and is never taken as empty. A 403 on the read is the
 * record being out of the API user's scope (webhooks come for every case in the module): the body is laid
 * over the stored look, and the job is done.
 */
async function completed(deps: PrimeroEventDeps, look: RecordLook, stored: StoredSnapshot | null): Promise<Completed> {
  const { missing } = look;
  const asSent = asSnapshot(look);
  if (!missing?.length) return { snapshot: stored?.outOfScope ? { ...asSent, outOfScope: true } : asSent, readable: null };
  let record: Record<string, unknown>;
  try {
    record = await deps.primero.getRecord(look.recordType, look.recordId, snapshotFieldNames(look.recordType));
  } catch (err) {
    if (!isRecordOutOfScope(err)) throw err;
    deps.counters.increment('gateway_primero_events_out_of_scope_total', { record_type: look.recordType });
    return { snapshot: { ...filledFrom(asSent, missing, [stored]), outOfScope: true }, readable: false };
  }
  const read = snapshotOf({ last_updated_at: look.lastUpdatedAt, ...record, id: look.recordId, record_type: look.recordType }, look.recordType);
  if (!read) return { snapshot: filledFrom(asSent, missing, [stored]), readable: true };
  return { snapshot: filledFrom(read, missingSnapshotFields(record, look.recordType), [look, stored]), readable: true };
}

/**
 * Evidence for the poller's empty-answer check, only for a record its search can return: one read in this
 * job, or one the gateway created and was never refused.
 */
async function sighted(deps: PrimeroEventDeps, done: Completed): Promise<void> {
  const { snapshot, readable } = done;
  const visible = readable ?? (!snapshot.outOfScope && (await deps.references.referenceOfRecord(snapshot.recordId)) !== null);
  if (!visible) return;
  await deps.sightings.record(snapshot.recordType, snapshot.recordId, snapshot.lastUpdatedAt).catch((err: Error) => deps.logger.debug({ err: err.message }, 'webhook sighting not recorded'));
}

/**
 * Whether this look confirmed the person's safe-to-contact answer (the body's word first, then the gateway's own
 * read, which also finds the caseworker's notes). Again on a retry after the swap: its status messages wait on it.
 */
async function safetyOf(deps: PrimeroEventDeps, look: RecordLook): Promise<boolean> {
  const body = await followBodySafeToContact(deps.references, deps.safeFieldOf, look.recordId, look.safe);
  const read = deps.notes ? (await deps.notes.detect(look.recordType, look.recordId)).safe : null;
  return safeToContactConfirmed(body, read);
}

/**
 * One look at a record: swapped in atomically against the last look, so whether it came by webhook or by
 * poller, a change is diffed (and notified) once. A look no newer than the stored one is dropped before
 * anything is read for it.
 */
export function primeroEventProcessor(deps: PrimeroEventDeps) {
  return async (job: Job<JobData<'primero-events'>>): Promise<string> => {
    const look = openJob(deps.codec, job);
    const stored = await deps.snapshots.get(look.recordId);
    if (stored && Date.parse(stored.lastUpdatedAt) >= Date.parse(look.lastUpdatedAt)) {
      // This look was swapped in and its changes' dispatch never finished (the worker died, or it failed after the
      // swap): they are derived and dispatched again, not lost with "already seen".
      const unfinished = Date.parse(stored.lastUpdatedAt) === Date.parse(look.lastUpdatedAt) ? await deps.snapshots.unfinished(stored) : null;
      if (!unfinished) return 'already-seen';
      let confirmed: boolean;
      try {
        confirmed = await safetyOf(deps, look);
        // The stored look's mark follows what this retry found, before its dispatch: STATUS and the status messages
        // sent now (rapidpro-notify reads the mark when it sends) agree with it.
        if (confirmed === (stored.safeUnconfirmed === true)) await deps.snapshots.markConfirmation(stored, !confirmed);
      } catch (err) {
        return rethrowForQueue(err, deps.queue, deps.logger, deps.authFailurePauseMs);
      }
      return notify(deps, [unfinished.before], { snapshot: stored, readable: null, safeConfirmed: confirmed });
    }
    let done: Checked;
    try {
      const diffable = await completed(deps, look, stored);
      // Before the swap: a failed notes read is retried with the job, which after the swap would find the look
      // already seen. A look that loses the swap to a newer one costs a read; the ledger keeps the notes to one send.
      done = { ...diffable, safeConfirmed: await safetyOf(deps, look) };
    } catch (err) {
      return rethrowForQueue(err, deps.queue, deps.logger, deps.authFailurePauseMs);
    }
    let snapshot: StoredSnapshot = done.safeConfirmed ? done.snapshot : { ...done.snapshot, safeUnconfirmed: true };
    if (snapshot.caseIdDisplay === null) snapshot = withDisplayOf(snapshot, stored);
    const { applied, before, unsettled } = await deps.snapshots.swapPending(snapshot);
    if (!applied) return 'already-seen';
    return notify(deps, unsettled ? [before, unsettled] : [before], { ...done, snapshot });
  };
}

/**
 * The changes to the swapped-in look from each earlier look given, dispatched, then the swap's pending entry settled.
 * A throw before the settle leaves the entry: the job's retry finds it and dispatches again.
 */
async function notify(deps: PrimeroEventDeps, earlier: Array<RecordSnapshot | null>, done: Checked): Promise<string> {
  const outcome = await dispatchChanges(deps, earlier, done);
  await deps.snapshots.settle(done.snapshot.recordId, done.snapshot.lastUpdatedAt);
  return outcome;
}

/** Each change once, whichever earlier look it was derived from: each says what is true of the newest look. */
function changesSince(earlier: Array<RecordSnapshot | null>, snapshot: RecordSnapshot): RecordEvent[] {
  const seen = new Set<string>();
  return earlier.flatMap((before) => deriveEvents(before, snapshot)).filter((e) => {
    const key = e.kind === 'assigned' ? `assigned:${e.user}` : e.kind;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

async function dispatchChanges(deps: PrimeroEventDeps, earlier: Array<RecordSnapshot | null>, done: Checked): Promise<string> {
  const { snapshot } = done;
  await sighted(deps, done);
  const events = changesSince(earlier, snapshot);
  if (events.length === 0) return 'no-change';
  const origin = await originOf(deps.references, snapshot.recordId);
  if (origin) for (const e of events) await deps.trace.record(origin.reference, `case_${e.kind}`, e.kind === 'assigned' ? { user: e.user } : undefined);
  const plan = planForRecordEvents(events, snapshot, origin, deps.plan);
  await deps.dispatcher.dispatch(done.safeConfirmed ? plan : await withoutUnverifiedStarts(plan, deps.trace, deps.counters), origin?.reference ?? null);
  deps.logger.info({ recordId: snapshot.recordId, events: events.map((e) => e.kind).join(','), reference: origin?.reference ?? null }, 'record change handled');
  return events.map((e) => e.kind).join(',');
}
