import type { Job, Queue } from 'bullmq';
import type { PrimeroClient } from '../src/clients/primero';
import { planForRecordEvents, type PlanContext, type RecordOrigin } from '../src/domain/notification-plan';
import { deriveEvents, snapshotFieldNames, snapshotOf, withDisplayOf, type RecordLook, type RecordSnapshot } from '../src/domain/record-events';
import type { Logger } from '../src/logger';
import type { NotificationDispatcher } from '../src/notifications/dispatcher';
import type { ReferenceStore } from '../src/store/references';
import type { SnapshotStore } from '../src/store/snapshots';
import type { TraceStore } from '../src/store/trace';
import { rethrowForQueue } from './delivery-failure';

export interface PrimeroEventDeps {
  snapshots: SnapshotStore;
  references: ReferenceStore;
  dispatcher: NotificationDispatcher;
  trace: TraceStore;
  plan: PlanContext;
  logger: Logger;
  primero: Pick<PrimeroClient, 'getRecord'>;
  queue: Queue;
  configPauseMs: number;
}

/** Where the record came from, if the gateway created it: the person to tell, and whether it is sensitive. */
export async function originOf(references: ReferenceStore, recordId: string): Promise<RecordOrigin | null> {
  const reference = await references.referenceOfRecord(recordId);
  const link = reference ? await references.get(reference) : null;
  return link ? { reference: link.reference, urn: link.urn, sensitive: link.sensitive } : null;
}

/**
 * A webhook body that lacked a field the diff reads says nothing about that field: the record is read with
 * the API user's fields, and that whole view replaces the partial one. What the read lacks is empty.
 */
async function completed(deps: PrimeroEventDeps, look: RecordLook): Promise<RecordSnapshot> {
  const { missing, ...snapshot } = look;
  if (!missing?.length) return snapshot;
  const record = await deps.primero.getRecord(look.recordType, look.recordId, snapshotFieldNames(look.recordType));
  const read = snapshotOf({ last_updated_at: look.lastUpdatedAt, ...record, id: look.recordId, record_type: look.recordType }, look.recordType);
  return read ?? snapshot;
}

/**
 * One look at a record: swapped in atomically against the last look, so whether it came by webhook or by
 * poller, a change is diffed (and notified) once.
 */
export function primeroEventProcessor(deps: PrimeroEventDeps) {
  return async (job: Job): Promise<string> => {
    let snapshot: RecordSnapshot;
    try {
      snapshot = await completed(deps, job.data as RecordLook);
    } catch (err) {
      return rethrowForQueue(err, deps.queue, deps.logger, deps.configPauseMs);
    }
    if (snapshot.caseIdDisplay === null) snapshot = withDisplayOf(snapshot, await deps.snapshots.get(snapshot.recordId));
    const { applied, before } = await deps.snapshots.swap(snapshot);
    if (!applied) return 'already-seen';
    const events = deriveEvents(before, snapshot);
    if (events.length === 0) return 'no-change';
    const origin = await originOf(deps.references, snapshot.recordId);
    if (origin) for (const e of events) await deps.trace.record(origin.reference, `case_${e.kind}`, e.kind === 'assigned' ? { user: e.user } : undefined);
    await deps.dispatcher.dispatch(planForRecordEvents(events, snapshot, origin, deps.plan), origin?.reference ?? null);
    deps.logger.info({ recordId: snapshot.recordId, events: events.map((e) => e.kind).join(','), reference: origin?.reference ?? null }, 'record change handled');
    return events.map((e) => e.kind).join(',');
  };
}
