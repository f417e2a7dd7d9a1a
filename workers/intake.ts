import { DelayedError, UnrecoverableError, type Job, type Queue } from 'bullmq';
import type { PrimeroClient } from '../src/clients/primero';
import { TEXT_SEPARATOR, buildCaseRecord, type CaseMapping, type MappedCase } from '../src/domain/case-mapping';
import type { InboundMessage } from '../src/domain/inbound-message';
import { inboundMessageSchema } from '../src/channels/inbound-message-schema';
import { uuidV5 } from '../src/domain/uuid';
import type { Logger } from '../src/logger';
import type { MappingSet } from '../src/mappings';
import type { PayloadCodec } from '../src/security/payload-codec';
import type { ContactStore } from '../src/store/contacts';
import type { TraceStore } from '../src/store/trace';
import type { SnapshotStore } from '../src/store/snapshots';
import type { NotificationDispatcher } from '../src/notifications/dispatcher';
import { planForNewRecord, type PlanContext } from '../src/domain/notification-plan';
import { displayIdOf, snapshotOf } from '../src/domain/record-events';
import type { CaseLink, ReferenceStore } from '../src/store/references';
import type { AcceptanceLedger } from '../src/store/acceptances';
import type { RecordLocks } from '../src/store/record-locks';
import { ownReferenceOfJobId } from '../src/queues/intake';
import { DeliveryError } from '../src/clients/delivery-error';
import { rethrowForQueue } from './delivery-failure';
import { openJob } from './open-job';

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
  locks: RecordLocks;
  /** Longer than a read and a write to Primero: a merge holds its record that long at most. */
  mergeLockMs: number;
  /** Past this after a referral or flag call began, that call has landed in Primero or never will. */
  stepSettleMs: number;
  /** ENQUEUE_TIMEOUT_MS and a margin: by then every acceptance claimed before a job's own is confirmed or withdrawn. */
  confirmWindowMs: number;
}

// Fixed texts written to Primero about sensitive reports: they say how to handle the record, never what it holds.
const SENSITIVE_FLAG = 'Sensitive report received through the messaging gateway: restricted handling, focal point only.';
const SENSITIVE_ASSIGN_NOTE = 'Sensitive report received through the messaging gateway.';

/** How soon a merged report first looks again for the earlier report it joins while that one is on its way (doubling, to a minute). */
const EARLIER_REPORT_POLL_MS = 2000;
const EARLIER_REPORT_MAX_WAIT_MS = 60_000;

class RecordBusyError extends Error {
  override readonly name = 'RecordBusyError';
}

/** The job must wait `waitMs` more, which is no failed attempt: an earlier call, or the earlier report it joins, may still land. */
class NotYetError extends Error {
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
async function settledSince(deps: IntakeDeps, since: string | undefined, what: string): Promise<void> {
  if (!since) return;
  const until = Date.parse(since) + deps.stepSettleMs;
  const now = await deps.references.now();
  if (now < until) throw new NotYetError(until - now, `${what} begun by an earlier attempt may still land in Primero; waiting`);
}

/** Written after a merged report's words (text_append merges only): a retry recognises its own append by it, never by the words. */
export function mergeMarker(ownReference: string): string {
  return `[gateway message ${ownReference}]`;
}

/** The subform entry a merged report becomes: its id is its own reference's, so a retry rewrites it, never adds one. */
export function mergedEntryId(ownReference: string): string {
  return uuidV5(`merged-report:${ownReference}`);
}

/** A 4xx answer is a definite refusal: Primero did not apply the write. Anything else may still land. */
const definitelyRefused = (err: unknown) => err instanceof DeliveryError && err.status !== null && err.status >= 400 && err.status < 500;

function mappingFor(deps: IntakeDeps, message: InboundMessage): CaseMapping {
  const mapping = deps.mappings.get(message.intent);
  if (!mapping) throw new UnrecoverableError(`no mapping is configured for intent "${message.intent}"`);
  return mapping;
}

/**
 * Referral only once. `attemptsMade` counts finished attempts only (a stalled first attempt leaves it at 0),
 * so Primero's own list is asked on every attempt until the step is recorded as done.
 */
async function referOnce(deps: IntakeDeps, link: CaseLink, mapping: CaseMapping): Promise<void> {
  const target = mapping.referral!;
  await settledSince(deps, link.steps.referringAt, 'a referral');
  const existing = await deps.primero.listReferrals(link.caseId);
  if (!existing.some((r) => r.transitioned_to === target.transitioned_to && r.status !== 'revoked')) {
    // Written before every call, so the next attempt waits for this one to land before it lists.
    await deps.references.markBegun(link.reference, 'referringAt');
    await deps.primero.refer(link.caseId, target);
    deps.logger.info({ reference: link.reference, caseId: link.caseId }, 'case referred');
  }
  await deps.references.mark(link.reference, 'referredAt');
  await deps.trace.record(link.reference, 'referred', { to: target.transitioned_to });
}

/**
 * Whether an assign begun by an earlier attempt landed, asked once it can no longer be in flight. Primero's
 * Assign makes the recipient the owner at once (app/models/assign.rb); `owned_by` is readable by any role that may
 * read the case (PermittedFieldService::PERMITTED_RECORD_INFORMATION_FIELDS).
 */
async function assignedTo(deps: IntakeDeps, link: CaseLink, focalPoint: string): Promise<boolean> {
  await settledSince(deps, link.steps.assigningAt, 'an assignment');
  try {
    const record = await deps.primero.getRecord('case', link.caseId, ['owned_by']);
    return record.owned_by === focalPoint;
  } catch (err) {
    // Out of the API user's scope: it has another owner, through that assign or someone else's. Marking it
    // assigned could hide a sensitive case the focal point never got; an operator checks its owner in Primero.
    if (outOfScope(err)) {
      await deps.trace.record(link.reference, 'assign_unverified', { to: focalPoint });
      throw new UnrecoverableError("the focal-point assignment could not be verified: the case is out of the API user's scope; check its owner in Primero");
    }
    throw err;
  }
}

async function protectSensitive(deps: IntakeDeps, link: CaseLink): Promise<void> {
  if (!link.steps.flaggedAt) {
    // A crash between the flag and its mark must not flag twice: Primero's flags say whether it landed.
    await settledSince(deps, link.steps.flaggingAt, 'a flag');
    const flags = await deps.primero.listFlags(link.recordType, link.caseId);
    if (!flags.some((f) => f.message === SENSITIVE_FLAG && !f.removed)) {
      await deps.references.markBegun(link.reference, 'flaggingAt');
      await deps.primero.flag(link.recordType, link.caseId, SENSITIVE_FLAG, new Date().toISOString().slice(0, 10));
    }
    await deps.references.mark(link.reference, 'flaggedAt');
    await deps.trace.record(link.reference, 'flagged_sensitive');
  }
  const focalPoint = deps.sensitive.focalPoint;
  if (focalPoint && link.recordType === 'case' && !link.steps.assignedAt) {
    // A crash between the assign and its mark must not assign (and notify the focal point) twice.
    if (!link.steps.assigningAt || !(await assignedTo(deps, link, focalPoint))) {
      await deps.references.markBegun(link.reference, 'assigningAt');
      await deps.primero.assign(link.caseId, focalPoint, SENSITIVE_ASSIGN_NOTE);
    }
    await deps.references.mark(link.reference, 'assignedAt');
    await deps.trace.record(link.reference, 'assigned', { to: focalPoint });
    deps.logger.info({ reference: link.reference, caseId: link.caseId, sensitive: true }, 'assigned to the focal point');
  }
}

/** CanCan's AccessDenied on one record: out of the API user's scope (see src/clients/delivery-error.ts). */
const outOfScope = (err: unknown) => err instanceof DeliveryError && err.status === 403 && err.kind === 'permanent';

async function createRecord(deps: IntakeDeps, message: InboundMessage, mapped: MappedCase, recordId: string): Promise<CaseLink> {
  if (message.sensitive && deps.sensitive.moduleId) mapped.data.module_id = deps.sensitive.moduleId;
  const outcome = await deps.primero.createRecord(mapped.recordType, mapped.data);
  const record = await deps.primero.getRecord(mapped.recordType, recordId).catch((err: unknown) => {
    // The API user created this record a moment ago and owns it: a 403 here is its role, true of every job.
    if (outOfScope(err)) throw new DeliveryError('primero', 'configuration', 403, 'Primero refused the read of a case the API user just created (403): its role lacks read access');
    throw err;
  });
  const snapshot = snapshotOf({ ...record, id: recordId, record_type: mapped.recordType }, mapped.recordType);
  const caseIdDisplay = displayIdOf(record, mapped.recordType);
  // The first look at the record is the gateway's own: the create webhook that follows changes nothing.
  if (snapshot) await deps.snapshots.swap(snapshot);
  const link: CaseLink = {
    reference: message.reference,
    recordType: mapped.recordType,
    caseId: recordId,
    caseIdDisplay,
    urn: message.urn,
    contactUuid: message.contactUuid?.toLowerCase() ?? null,
    channel: message.channel,
    intent: message.intent,
    sensitive: message.sensitive,
    createdAt: new Date().toISOString(),
    urgent: snapshot?.urgent ?? false,
    steps: {},
  };
  // Another job linked this reference first (its lock lapsed): that record is the one the sender was told of.
  const prior = await deps.references.saveLink(link);
  if (prior) return prior;
  // By URN and by RapidPro contact UUID: "forget" can then find a person known only by the latter.
  for (const who of [message.urn, message.contactUuid?.toLowerCase()]) if (who) await deps.contacts.indexReference(who, message.reference, deps.referenceRetentionDays);
  await deps.trace.record(message.reference, 'record_created', { recordType: mapped.recordType, recordId, caseIdDisplay, outcome });
  deps.logger.info({ reference: message.reference, caseId: recordId, caseIdDisplay, outcome, sensitive: message.sensitive }, 'record created');
  return link;
}

/**
 * Adds a report's words to a record it did not create, as the mapping's `merge_into` says. `own` is the
 * report's own reference: what makes the addition idempotent and independent of order.
 */
async function appendToRecord(deps: IntakeDeps, message: InboundMessage, mapping: CaseMapping, mapped: MappedCase, link: CaseLink, own: string): Promise<void> {
  const addition = mapped.data[mapping.text_field];
  if (typeof addition !== 'string' || addition === '') return;
  const target = mapping.merge_into;
  if (target.mode === 'subform') {
    // Primero appends an entry whose unique_id is new and merges one it knows: no read, no lock, nothing replaced.
    const entry: Record<string, string> = { unique_id: mergedEntryId(own), [target.subject_field]: `Further report (${own})`, [target.text_field]: addition };
    if (target.date_field) entry[target.date_field] = message.receivedAt;
    const changed = await deps.primero.updateRecord(link.recordType, link.caseId, { [target.subform]: [entry] });
    if (!holdsEntry(changed[target.subform], entry.unique_id!)) await entryStored(deps, link, target.subform, entry.unique_id!);
  } else {
    await appendToTextField(deps, mapping, link, addition, mergeMarker(own));
  }
  await deps.trace.record(link.reference, 'report_added', { recordId: link.caseId });
  deps.logger.info({ reference: link.reference, caseId: link.caseId, sensitive: message.sensitive }, 'report added to the earlier record');
}

const holdsEntry = (subform: unknown, uniqueId: string) => Array.isArray(subform) && subform.some((e) => (e as { unique_id?: unknown } | null)?.unique_id === uniqueId);

/**
 * Primero answers a PATCH with the fields it changed, and drops a subform the role may not write yet answers 200.
 * Our entry absent from that answer means unchanged (an earlier attempt stored it) or dropped: the record says which.
 */
async function entryStored(deps: IntakeDeps, link: CaseLink, subform: string, uniqueId: string): Promise<void> {
  const record = await deps.primero.getRecord(link.recordType, link.caseId, [subform]);
  if (holdsEntry(record[subform], uniqueId)) return;
  throw new UnrecoverableError(`Primero accepted the update but did not store the merged report: the record's ${subform} has no entry for it (the API user's role may not write that form)`);
}

/**
 * The `text_append` fallback: the PATCH replaces the field, so it is read and written back under the record's
 * lock. The lock is released only when the write is known to have landed or been refused: after a timeout the
 * PATCH may still commit, and the next writer must not read the text before it does (the lock's TTL ends that).
 */
async function appendToTextField(deps: IntakeDeps, mapping: CaseMapping, link: CaseLink, addition: string, marker: string): Promise<void> {
  const token = await deps.locks.acquire(link.caseId, deps.mergeLockMs);
  if (!token) throw new RecordBusyError('another report is being added to this record');
  let release = true;
  try {
    const record = await deps.primero.getRecord(link.recordType, link.caseId);
    const current = record[mapping.text_field];
    // The gateway created this record with the field set: absent means the role cannot read it, and writing
    // it back would replace everything it holds with this one report.
    if (typeof current !== 'string') {
      throw new UnrecoverableError(`the linked record's ${mapping.text_field} could not be read (the API user's role may not read it); use merge_into mode "subform"`);
    }
    if (current.includes(marker)) return;
    // Primero's text fields are single-line: reports are joined as the mapping joins lines.
    const appended = `${addition}${TEXT_SEPARATOR}${marker}`;
    try {
      await deps.primero.updateRecord(link.recordType, link.caseId, { [mapping.text_field]: current ? `${current}${TEXT_SEPARATOR}${appended}` : appended });
    } catch (err) {
      release = definitelyRefused(err);
      throw err;
    }
  } finally {
    if (release) await deps.locks.release(link.caseId, token);
  }
}

/**
 * The earlier report has no record and never will (its store failed or was withdrawn after a 503, or its API
 * died between claim and job): the first report merged into it opens the record under the reference the
 * sender was given. One at a time per reference; a late earlier job then finds the record and appends.
 */
async function adoptReference(deps: IntakeDeps, job: Job, message: InboundMessage, mapped: MappedCase, recordId: string): Promise<CaseLink> {
  const earlier = message.mergeInto!;
  const state = await deps.queue.getJobState(`m-${earlier}`);
  // Refused by Primero: this report can only follow it (an operator replays the earlier one, then this one).
  if (state === 'failed') throw new UnrecoverableError('the earlier report is a dead letter: replay it first, then this one');
  // Still on its way (waiting, retrying, or its worker died and it is coming back): waiting for it is no failed attempt.
  if (state !== 'unknown' && state !== 'completed') {
    // Backing off, so that reports waiting through a long Primero outage do not crowd out the ones they wait for.
    const waits = Math.max(0, (job.attemptsStarted ?? 1) - 1);
    throw new NotYetError(Math.min(EARLIER_REPORT_MAX_WAIT_MS, EARLIER_REPORT_POLL_MS * 2 ** Math.min(waits, 10)), 'the earlier report has no record yet; waiting for it');
  }
  // No job yet may only mean its add has not landed: the earlier report was claimed before this one, so once this
  // job's own confirmation window has passed, the earlier one was confirmed (its job exists) or withdrawn.
  const until = job.timestamp + deps.confirmWindowMs;
  if (Date.now() < until) throw new NotYetError(until - Date.now(), 'the earlier report may still be confirmed; waiting');
  return linkOrCreate(deps, earlier, message, mapped, recordId);
}

/**
 * The record a reference names, created if it has none: one job at a time per reference, so the earlier
 * message's own job and a report adopting its reference cannot both create one.
 */
async function linkOrCreate(deps: IntakeDeps, reference: string, message: InboundMessage, mapped: MappedCase, recordId: string): Promise<CaseLink> {
  const token = await deps.locks.acquire(`reference-${reference}`, deps.mergeLockMs);
  if (!token) throw new RecordBusyError('another report is opening this reference');
  try {
    return (await deps.references.get(reference)) ?? (await createRecord(deps, message, mapped, recordId));
  } finally {
    await deps.locks.release(`reference-${reference}`, token);
  }
}

/** A later report from the same sender and category: its words are added to the first record. */
async function mergeIntoEarlier(deps: IntakeDeps, job: Job, message: InboundMessage, mapping: CaseMapping, mapped: MappedCase, recordId: string): Promise<void> {
  const link = (await deps.references.get(message.mergeInto!)) ?? (await adoptReference(deps, job, message, mapped, recordId));
  if (link.caseId === recordId) return notifyOnce(deps, message, link, mapped.consentGiven);
  const own = ownReferenceOfJobId(job.id ?? '');
  // An earlier attempt already filed these words alone (the record was out of scope): never append them as well.
  const filedAlone = own ? await deps.references.get(own) : null;
  if (filedAlone) return notifyOnce(deps, { ...message, reference: own!, mergeInto: null }, filedAlone, mapped.consentGiven);
  try {
    await appendToRecord(deps, message, mapping, mapped, link, own ?? message.reference);
  } catch (err) {
    // The earlier record has left the API user's scope (a caseworker reassigned it): these words cannot join it,
    // and a dead letter could only be discarded. They become a record of their own, under the report's own reference.
    if (!outOfScope(err) || !own) throw err;
    await deps.trace.record(link.reference, 'merge_out_of_scope', { recordId: link.caseId });
    const alone: InboundMessage = { ...message, reference: own, mergeInto: null };
    const ownLink = (await deps.references.get(own)) ?? (await createRecord(deps, alone, buildCaseRecord(alone, mapping, recordId), recordId));
    await notifyOnce(deps, alone, ownLink, mapped.consentGiven);
  }
}

/** After the link and the follow-up steps are recorded: a notification never names a step not yet taken. */
async function notifyOnce(deps: IntakeDeps, message: InboundMessage, link: CaseLink, consentGiven: boolean): Promise<void> {
  if (link.steps.notifiedAt) return;
  const facts = { recordType: link.recordType, recordId: link.caseId, caseIdDisplay: link.caseIdDisplay, urgent: link.urgent ?? false, intent: message.intent, consentGiven };
  // A retry after a crash here dispatches again; the notification keys dedupe.
  await deps.dispatcher.dispatch(planForNewRecord(facts, { reference: message.reference, urn: message.urn, sensitive: message.sensitive }, deps.plan), message.reference);
  await deps.references.mark(link.reference, 'notifiedAt');
}

/**
 * Waits for the acceptance's verdict (the API confirms right after its add, so usually at once; at most until
 * the claim's confirmation window ends, when no verdict means withdrawn). The wait stays inside this attempt:
 * it is short (ENQUEUE_TIMEOUT_MS at most), uses no attempt and keeps the first start the first start.
 */
async function confirmed(deps: IntakeDeps, idempotencyKey: string, acceptanceId: string): Promise<boolean> {
  for (;;) {
    const verdict = await deps.ledger.begin(idempotencyKey, acceptanceId);
    if (verdict !== 'proceed' && verdict !== 'withdrawn') await new Promise((r) => setTimeout(r, Math.min(verdict, 25)));
    else return verdict === 'proceed';
  }
}

async function handle(deps: IntakeDeps, job: Job): Promise<void> {
  const parsed = inboundMessageSchema.safeParse(openJob(deps.codec, job));
  if (!parsed.success) throw new UnrecoverableError('the stored message does not match the envelope schema');
  const message = parsed.data;
  // Only a confirmed acceptance is acted on: one withdrawn (its delivery was answered 503) never is.
  if (message.acceptanceId && !(await confirmed(deps, message.idempotencyKey, message.acceptanceId))) {
    await deps.trace.record(message.reference, 'withdrawn', { queue: job.queueName });
    deps.logger.info({ reference: message.reference, jobId: job.id }, 'withdrawn job skipped: its delivery was answered 503');
    return;
  }
  // First start only: a replay (which resets attemptsMade) or a stalled restart must not log arrival twice.
  if (job.attemptsStarted <= 1 && !message.mergeInto) {
    await deps.trace.record(message.reference, 'received', { channel: message.channel, intent: message.intent }, new Date(message.receivedAt));
    await deps.trace.record(message.reference, 'stored', { queue: job.queueName }, new Date(job.timestamp));
  }
  const mapping = mappingFor(deps, message);
  // One record per acceptance: every attempt of this job names the same record (a retry meets 409), and a
  // new acceptance of the same content (a resend after the window) names a new one.
  const recordId = message.recordId ?? uuidV5(message.acceptanceId ?? message.idempotencyKey);
  const mapped = buildCaseRecord(message, mapping, recordId);

  if (message.mergeInto) return mergeIntoEarlier(deps, job, message, mapping, mapped, recordId);

  const link = await linkOrCreate(deps, message.reference, message, mapped, recordId);
  // A report merged into this one opened the record while this job was late: these words join it.
  if (link.caseId !== recordId) return appendToRecord(deps, message, mapping, mapped, link, message.reference);
  if (message.sensitive) await protectSensitive(deps, link);
  else if (mapped.consentGiven && mapping.referral && !link.steps.referredAt) await referOnce(deps, link, mapping);
  await notifyOnce(deps, message, link, mapped.consentGiven);
}

export function intakeProcessor(deps: IntakeDeps) {
  return async (job: Job, token?: string): Promise<void> => {
    try {
      await handle(deps, job);
    } catch (err) {
      // Waiting for another merge to finish is not a failed attempt: the job comes back shortly, attempts intact.
      if (err instanceof RecordBusyError && token) {
        await job.moveToDelayed(Date.now() + 100 + Math.floor(Math.random() * 200), token);
        throw new DelayedError();
      }
      if (err instanceof NotYetError && token) {
        deps.logger.info({ jobId: job.id, waitMs: err.waitMs }, err.message);
        // BullMQ promotes delayed jobs on the workers' own clocks: the wait is measured, the deadline is local.
        await job.moveToDelayed(Date.now() + err.waitMs, token);
        throw new DelayedError();
      }
      await rethrowForQueue(err, deps.queue, deps.logger, deps.authFailurePauseMs);
    }
  };
}
