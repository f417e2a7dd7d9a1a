import type { Queue } from 'bullmq';
import type { PrimeroClient } from '../clients/primero';
import { DeliveryError } from '../clients/delivery-error';
import type { PlanContext } from '../domain/notification-plan';
import type { Logger } from '../logger';
import type { MappingSet } from '../mappings';
import type { NotificationDispatcher } from '../notifications/dispatcher';
import type { PayloadCodec } from '../security/payload-codec';
import type { AcceptanceLedger } from '../store/acceptances';
import type { ContactStore } from '../store/contacts';
import type { SharedCounters } from '../store/counters';
import type { RecordLocks } from '../store/record-locks';
import type { ReferenceStore } from '../store/references';
import type { SnapshotStore } from '../store/snapshots';
import type { TraceStore } from '../store/trace';

export interface SensitiveHandling {
  /** Module sensitive reports are created in; the mapping's own module when unset. */
  moduleId: string | undefined;
  /** Primero user who becomes the owner (assign, which notifies them); unassigned when unset. */
  focalPoint: string | undefined;
}

export interface IntakeDeps {
  primero: PrimeroClient;
  references: ReferenceStore;
  codec: PayloadCodec;
  trace: TraceStore;
  contacts: ContactStore;
  referenceRetentionDays: number;
  mappings: MappingSet;
  logger: Logger;
  /** The intake queue itself: Primero-wide conditions (bad credentials, a configuration lock) pause all of it. */
  queue: Queue;
  authFailurePauseMs: number;
  sensitive: SensitiveHandling;
  snapshots: SnapshotStore;
  dispatcher: NotificationDispatcher;
  plan: PlanContext;
  ledger: AcceptanceLedger;
  /** Counts each record created (gateway_records_created_total{record_type}). */
  counters: SharedCounters;
  locks: RecordLocks;
  /** Longer than a read and a write to Primero: a merge holds its record that long at most. */
  mergeLockMs: number;
  /** Past this after a referral or flag call began, that call has landed in Primero or never will. */
  stepSettleMs: number;
  /** ENQUEUE_TIMEOUT_MS and a margin: by then every acceptance claimed before a job's own is confirmed or withdrawn. */
  confirmWindowMs: number;
}

export class RecordBusyError extends Error {
  override readonly name = 'RecordBusyError';
}

/** The job must wait `waitMs` more, which is no failed attempt: an earlier call, or the earlier report it joins, may still land. */
export class NotYetError extends Error {
  override readonly name = 'NotYetError';
  constructor(readonly waitMs: number, message: string) {
    super(message);
  }
}

/**
 * A step whose call began at `since` and was never recorded as done may still be committing in Primero
 * after our client gave up on it: Primero's own list is trusted only once that call can no longer land.
 * `since` was written on Redis's clock, possibly by another host, so it is compared with Redis's clock too.
 */
export async function settledSince(deps: IntakeDeps, since: string | undefined, what: string): Promise<void> {
  if (!since) return;
  const until = Date.parse(since) + deps.stepSettleMs;
  const now = await deps.references.now();
  if (now < until) throw new NotYetError(until - now, `${what} begun by an earlier attempt may still land in Primero; waiting`);
}

/** A 4xx answer is a definite refusal: Primero did not apply the write. Anything else may still land. */
export const definitelyRefused = (err: unknown) => err instanceof DeliveryError && err.status !== null && err.status >= 400 && err.status < 500;

/** Nothing of the call can land: a definite refusal, or a connection never made (networkFailure hints maybe_sent otherwise). */
export const cannotHaveLanded = (err: unknown) => definitelyRefused(err) || (err instanceof DeliveryError && err.status === null && err.hint === null);

/**
 * Primero answers 404 to an update of a record it no longer has (deleted or merged away: ActiveRecord's
 * RecordNotFound, app/services/error_service.rb). Retrying cannot help; the words are filed on their own.
 */
export const deletedInPrimero = (err: unknown) => err instanceof DeliveryError && err.status === 404;

/** CanCan's AccessDenied on one record: out of the API user's scope (see src/clients/delivery-error.ts). */
export { isRecordOutOfScope as outOfScope } from '../clients/delivery-error';
