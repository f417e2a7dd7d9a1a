import { UnrecoverableError, type Job } from 'bullmq';
import { TEXT_SEPARATOR, buildCaseRecord, type CaseMapping, type MappedCase } from '../domain/case-mapping';
import type { InboundMessage } from '../domain/inbound-message';
import { uuidV5 } from '../domain/uuid';
import { intakeJobId } from '../queues/jobs';
import type { CaseLink } from '../store/references';
import { jobKey } from '../store/job-hash';
import { cannotHaveLanded, definitelyRefused, deletedInPrimero, NotYetError, outOfScope, RecordBusyError, type IntakeDeps } from './intake-deps';
import { createRecord, linkOrCreate, notifyOnce } from './records';

/** How soon a merged report first looks again for the earlier report it joins while that one is on its way (doubling, to a minute). */
const EARLIER_REPORT_POLL_MS = 2000;
const EARLIER_REPORT_MAX_WAIT_MS = 60_000;

/** Around each write of a report's words to Primero: `before` it goes out (after any read), `answered` once Primero said 2xx. */
interface WriteHooks {
  before(): Promise<void>;
  answered(): void;
}
const NO_HOOKS: WriteHooks = { before: async () => undefined, answered: () => undefined };

/** Written after a merged report's words (text_append merges only): a retry recognises its own append by it, never by the words. */
export function mergeMarker(ownReference: string): string {
  return `[gateway message ${ownReference}]`;
}

/** The subform entry a merged report becomes: its id is its own reference's, so a retry rewrites it, never adds one. */
export function mergedEntryId(ownReference: string): string {
  return uuidV5(`merged-report:${ownReference}`);
}

/**
 * Adds a report's words to a record it did not create, as the mapping's `merge_into` says. `own` is the
 * report's own reference: what makes the addition idempotent and independent of order. `beforeWrite` runs
 * before each write to Primero (after any read): where a merged report's job records that its words may land.
 */
export async function appendToRecord(deps: IntakeDeps, message: InboundMessage, mapping: CaseMapping, mapped: MappedCase, link: CaseLink, own: string, write: WriteHooks = NO_HOOKS): Promise<void> {
  const addition = mapped.data[mapping.text_field];
  if (typeof addition !== 'string' || addition === '') return;
  const notSafe = await lowerSafeToContact(deps, mapping, mapped, link);
  const target = mapping.merge_into;
  if (target.mode === 'subform') {
    // Primero appends an entry whose unique_id is new and merges one it knows: no read, no lock, nothing replaced.
    const entry: Record<string, string> = { unique_id: mergedEntryId(own), [target.subject_field]: `Further report (${own})`, [target.text_field]: addition };
    if (target.date_field) entry[target.date_field] = message.receivedAt;
    await write.before();
    const changed = await deps.primero.updateRecord(link.recordType, link.caseId, { [target.subform]: [entry], ...notSafe });
    write.answered();
    if (!holdsEntry(changed[target.subform], entry.unique_id!)) await entryStored(deps, link, target.subform, entry.unique_id!, MERGE_UNCONFIRMED_READ_BACK);
  } else {
    await appendToTextField(deps, mapping, link, addition, mergeMarker(own), notSafe, write);
  }
  await deps.trace.record(link.reference, 'report_added', { recordId: link.caseId });
  deps.logger.info({ reference: link.reference, caseId: link.caseId, sensitive: message.sensitive }, 'report added to the earlier record');
}

/**
 * A merged report whose own safe-to-contact answer is not a clear yes makes the record say not safe, in the same
 * PATCH as its words. Never the other way: a yes must not undo a caseworker's untick or an earlier no. The link is
 * lowered first, so a crash before the PATCH leaves the gateway silent (the safe side) and the retry writes the record.
 */
async function lowerSafeToContact(deps: IntakeDeps, mapping: CaseMapping, mapped: MappedCase, link: CaseLink): Promise<Record<string, false>> {
  const field = mapping.safe_to_contact_field;
  if (!field || mapped.data[field] === true) return {};
  await deps.references.lowerSafeToContact(link.reference);
  return { [field]: false };
}

export const holdsEntry = (subform: unknown, uniqueId: string) => Array.isArray(subform) && subform.some((e) => (e as { unique_id?: unknown } | null)?.unique_id === uniqueId);

/**
 * Primero answers a PATCH with the fields it changed, and drops a subform the role may not write yet answers 200.
 * Our entry absent from that answer means unchanged (an earlier attempt stored it) or dropped: the record says which.
 */
export async function entryStored(deps: IntakeDeps, link: CaseLink, subform: string, uniqueId: string, unconfirmed: string): Promise<void> {
  let record: Record<string, unknown>;
  try {
    record = await deps.primero.getRecord(link.recordType, link.caseId, [subform]);
  } catch (err) {
    // After Primero's 200: the words may be in the record, now out of scope (403) or not found (404, which Primero's
    // API never answers for a record it deleted: DELETE only disables). Never taken for a refused write (that would
    // file them alone, perhaps a second time): a dead letter an operator checks.
    if (!outOfScope(err) && !deletedInPrimero(err)) throw err;
    await deps.trace.record(link.reference, 'entry_unconfirmed', { recordId: link.caseId });
    throw new UnrecoverableError(unconfirmed);
  }
  if (holdsEntry(record[subform], uniqueId)) return;
  throw new UnrecoverableError(`Primero accepted the update but did not store the merged report: the record's ${subform} has no entry for it (the API user's role may not write that form)`);
}

/**
 * The `text_append` fallback: the PATCH replaces the field, so it is read and written back under the record's
 * lock. The lock is released only when the write is known to have landed or been refused: after a timeout the
 * PATCH may still commit, and the next writer must not read the text before it does (the lock's TTL ends that).
 */
async function appendToTextField(deps: IntakeDeps, mapping: CaseMapping, link: CaseLink, addition: string, marker: string, also: Record<string, false>, write: WriteHooks): Promise<void> {
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
    // Found: the PATCH that wrote it carried `also` as well.
    if (current.includes(marker)) return;
    // Primero's text fields are single-line: reports are joined as the mapping joins lines.
    const appended = `${addition}${TEXT_SEPARATOR}${marker}`;
    await write.before();
    try {
      await deps.primero.updateRecord(link.recordType, link.caseId, { [mapping.text_field]: current ? `${current}${TEXT_SEPARATOR}${appended}` : appended, ...also });
      write.answered();
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
  const state = await deps.queue.getJobState(intakeJobId.of(earlier));
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
 * A dead letter's reason: an earlier attempt wrote these words to the earlier record (its answer was lost, or the
 * worker died), and the record now answers 403. Filing them alone could put them in Primero twice, so an operator
 * decides: in scope again, a replay writes the same entry (or finds its marker) and files nothing else; or check the
 * record in Primero.
 */
const MERGE_UNCONFIRMED = "merge_unconfirmed: an earlier attempt's write of this report may be in the earlier record, which now answers 403 (out of the API user's scope); not filed as a case of its own";

/** A dead letter's reason: Primero answered the write 200, then the read that checks it stored the entry answered 403 or 404. */
const MERGE_UNCONFIRMED_READ_BACK = "merge_unconfirmed: Primero accepted the write of this report, then the record answered 403 (out of scope) or 404 (not found) when read back to check it; not filed as a case of its own";

/** A dead letter's reason: as MERGE_UNCONFIRMED, but the earlier report's link no longer leads to the record written to (its trace names it). */
const MERGE_UNCONFIRMED_UNLINKED = "merge_unconfirmed: an earlier attempt's write of this report may be in the earlier report's record, whose link is gone or now names another record; not filed as a case of its own. A replay cannot look there: check the record the trace names, then discard (reveal the payload to file the words by hand if they are not in it)";

/**
 * A dead letter's reason: an earlier attempt's write of these words may have landed (its answer was lost, or its
 * worker died), and the record now answers 404. Primero's API does not delete records (DELETE disables them:
 * reference §2.3), so a 404 for a record the gateway wrote to is a misroute or something an operator must see, not
 * proof that the words are gone: filing them alone could put them in Primero twice.
 */
const MERGE_UNCONFIRMED_NOT_FOUND = "merge_unconfirmed: an earlier attempt's write of this report may be in the earlier record, which now answers 404 (not found); not filed as a case of its own. Check the record in Primero: replay once it answers, or, if Primero no longer has it, reveal the payload, file the words by hand and discard";

/**
 * The words joined to the earlier record once, or an error saying why not. A 403 or 404 to this attempt's own write
 * means nothing of it was written (Primero authorizes and finds the record before it saves: `update` of
 * app/controllers/api/v2/concerns/record.rb), kept as `refused`; but after an earlier attempt's write (`sent`), or
 * after this one was answered 2xx (a 404 to the read that checks it), a 403 or 404 cannot tell whether the words are
 * in the record: a dead letter rather than perhaps the same words twice.
 */
async function appendOnce(deps: IntakeDeps, job: Job, message: InboundMessage, mapping: CaseMapping, mapped: MappedCase, link: CaseLink, own: string | null, mayHaveLanded: boolean): Promise<void> {
  const marks = jobKey(job);
  let answered = false;
  try {
    await appendToRecord(deps, message, mapping, mapped, link, own ?? message.reference, { before: () => deps.ledger.merges.markSent(marks, link.caseId), answered: () => (answered = true) });
  } catch (err) {
    if (deletedInPrimero(err) && mayHaveLanded) {
      await deps.trace.record(link.reference, 'merge_unconfirmed', { recordId: link.caseId });
      throw new UnrecoverableError(MERGE_UNCONFIRMED_NOT_FOUND);
    }
    // Primero took the write (2xx), then what followed failed (the read that checks it): the words may be in the
    // record, so its marks stay `sent` and nothing says it was refused.
    if (answered) throw err;
    if (outOfScope(err) && mayHaveLanded) {
      await deps.trace.record(link.reference, 'merge_unconfirmed', { recordId: link.caseId });
      throw new UnrecoverableError(MERGE_UNCONFIRMED);
    }
    // A job id naming no reference of its own (an older build's) cannot be filed alone: it keeps retrying the record.
    if ((outOfScope(err) || deletedInPrimero(err)) && own) await deps.ledger.merges.markRefused(marks);
    else if (cannotHaveLanded(err) && !mayHaveLanded) await deps.ledger.merges.unmarkSent(marks);
    throw err;
  }
  await deps.ledger.merges.markMerged(marks);
}

/** A later report from the same sender and category: its words are added to the first record. */
export async function mergeIntoEarlier(deps: IntakeDeps, job: Job, message: InboundMessage, mapping: CaseMapping, mapped: MappedCase, recordId: string): Promise<void> {
  const own = intakeJobId.ownReferenceOf(job.id ?? '');
  // What an earlier attempt did, read before the link: with the link gone by then (past REFERENCE_RETENTION_DAYS),
  // adopting the earlier reference would put words that may already be in its record into a new one.
  const { state: progress, sentTo } = await deps.ledger.merges.progress(jobKey(job));
  if (progress === 'merged') return;
  if (progress === 'refused' && own) return fileAlone(deps, message, mapping, mapped, recordId, own);
  const linked = await deps.references.get(message.mergeInto!);
  // The link is gone, or names another record than the one written to (re-created meanwhile by another report's
  // adoption): the words may be in that record, which this job cannot read through the link.
  if (progress === 'sent' && (!linked || (sentTo !== null && linked.caseId !== sentTo))) {
    await deps.trace.record(message.mergeInto!, 'merge_unconfirmed', { recordId: sentTo });
    throw new UnrecoverableError(MERGE_UNCONFIRMED_UNLINKED);
  }
  const link = linked ?? (await adoptReference(deps, job, message, mapped, recordId));
  if (link.caseId === recordId) return notifyOnce(deps, message, link, mapped.consentGiven);
  // An earlier attempt already filed these words alone (the record was out of scope): never append them as well.
  const filedAlone = own ? await deps.references.get(own) : null;
  if (filedAlone) return notifyOnce(deps, { ...message, reference: own!, mergeInto: null }, filedAlone, mapped.consentGiven);
  try {
    await appendOnce(deps, job, message, mapping, mapped, link, own, progress === 'sent');
  } catch (err) {
    // The earlier record has left the API user's scope (a caseworker reassigned it) or was deleted in Primero:
    // these words cannot join it, and a dead letter could only be discarded. They become a record of their own,
    // under the report's own reference.
    if (!(outOfScope(err) || deletedInPrimero(err)) || !own) throw err;
    await deps.trace.record(link.reference, outOfScope(err) ? 'merge_out_of_scope' : 'merge_record_gone', { recordId: link.caseId });
    await fileAlone(deps, message, mapping, mapped, recordId, own);
  }
}

/** The report as a record of its own, under its own reference (created once: a retry finds its link). */
async function fileAlone(deps: IntakeDeps, message: InboundMessage, mapping: CaseMapping, mapped: MappedCase, recordId: string, own: string): Promise<void> {
  const alone: InboundMessage = { ...message, reference: own, mergeInto: null };
  const ownLink = (await deps.references.get(own)) ?? (await createRecord(deps, alone, buildCaseRecord(alone, mapping, recordId), recordId));
  await notifyOnce(deps, alone, ownLink, mapped.consentGiven);
}
