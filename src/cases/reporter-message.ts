import { UnrecoverableError, type Job } from 'bullmq';
import { TEXT_SEPARATOR } from '../domain/case-mapping';
import type { InboundMessage } from '../domain/inbound-message';
import { planForFollowUp } from '../domain/notification-plan';
import { uuidV5 } from '../domain/uuid';
import { intakeJobId } from '../queues/jobs';
import type { NoteJob, NoteTarget } from '../store/follow-up-notes';
import { jobKey } from '../store/job-hash';
import type { CaseLink } from '../store/references';
import { cannotHaveLanded, deletedInPrimero, outOfScope, type IntakeDeps } from './intake-deps';
import { entryStored, holdsEntry } from './merge';

/** How the note's subject names the channel: what a caseworker recognises, not the provider's name. */
const CHANNEL_WORDS: Readonly<Record<string, string>> = { twilio: 'SMS', africastalking: 'SMS', whatsapp: 'WhatsApp', rapidpro: 'RapidPro' };

export const reporterMessageSubject = (channel: string) => `Message from reporter (${CHANNEL_WORDS[channel] ?? channel})`;

/** The note's id is its message's own reference's: a retry rewrites the same entry, never adds a second. */
export const reporterMessageEntryId = (own: string) => uuidV5(`reporter-message:${own}`);

/** Files a message as a record of its own, under its own reference (the intake worker's usual path). */
export type FileAlone = (message: InboundMessage) => Promise<void>;

/** Where the note goes: the target mapping's subform when it merges into one, else Primero's notes form. */
function notesTarget(deps: IntakeDeps, intent: string) {
  const target = deps.mappings.get(intent as InboundMessage['intent'])?.merge_into;
  return target?.mode === 'subform' ? target : { subform: 'notes_section', subject_field: 'note_subject', text_field: 'note_text', date_field: 'note_date' as string | undefined };
}

/**
 * A dead letter's reason: a retry found its note perhaps already in a record it can no longer read. Filing the words
 * alone could put them in Primero twice (and show them to people the record's scope kept them from), so an operator
 * decides: in scope again, a replay looks for the note first; or check the record in Primero and discard.
 */
const NOTE_UNCONFIRMED = "note_unconfirmed: an earlier attempt's note may be in the record, which now answers 403 (out of the API user's scope); not filed as a case of its own";

/**
 * A dead letter's reason: as NOTE_UNCONFIRMED, but the record answers 404. Primero's API does not delete records (DELETE
 * disables them: reference §2.3), so a 404 for a record the gateway wrote to is a misroute or something an operator
 * must see, not proof that the note is gone with it.
 */
const NOTE_UNCONFIRMED_NOT_FOUND = "note_unconfirmed: an earlier attempt's note may be in the record, which now answers 404 (not found); not filed as a case of its own. Check the record in Primero: replay once it answers, or, if Primero no longer has it, reveal the payload, file the words by hand and discard";

/** A dead letter's reason: Primero answered the note's PATCH 200, then the read that checks it stored the note answered 403 or 404. */
const NOTE_UNCONFIRMED_READ_BACK = "note_unconfirmed: Primero accepted the note, then the record answered 403 (out of scope) or 404 (not found) when read back to check it; not filed as a case of its own";

/** A dead letter's reason: as NOTE_UNCONFIRMED, but the link is gone and the job's marks name no record to look in. */
const NOTE_UNCONFIRMED_UNLINKED = "note_unconfirmed: an earlier attempt's note may be in the person's record, whose link is gone and which the job's marks do not name; not filed as a case of its own";

/** The record and form the note goes to, as `noteSent` keeps it. */
const targetOf = (deps: IntakeDeps, link: CaseLink): NoteTarget => ({ recordType: link.recordType, recordId: link.caseId, subform: notesTarget(deps, link.intent).subform, sensitive: link.sensitive });

/**
 * Whether the record holds this message's note: a retry's look before it writes, when an earlier PATCH may have landed.
 * A record with no notes answers without the form; so would one whose notes the role may not read, but then no note
 * could ever be confirmed (appendNote's check dead-letters every follow-up), so absent is absent. A 403 or 404 cannot
 * tell: a dead letter.
 */
async function noteInRecord(deps: IntakeDeps, target: NoteTarget, reference: string, own: string): Promise<boolean> {
  try {
    return holdsEntry((await deps.primero.getRecord(target.recordType, target.recordId, [target.subform]))[target.subform], reporterMessageEntryId(own));
  } catch (err) {
    if (!outOfScope(err) && !deletedInPrimero(err)) throw err;
    await deps.trace.record(reference, 'follow_up_note_unconfirmed', { recordId: target.recordId, own });
    throw new UnrecoverableError(outOfScope(err) ? NOTE_UNCONFIRMED : NOTE_UNCONFIRMED_NOT_FOUND);
  }
}

/**
 * Adds the note once, or says why it cannot join the record: `gone` (Primero answered this PATCH 404: nothing written)
 * or `out_of_scope` (403: refused, so certainly not in it), both filed alone. `mayHaveLanded`: an earlier PATCH went out
 * (or nothing says it did not), so the record is read first, and a 403 or 404 to that read is a dead letter
 * (noteInRecord): only a record just read without the note, or never written to, is refused this way.
 */
async function addNoteOnce(deps: IntakeDeps, link: CaseLink, message: InboundMessage, marks: NoteJob, own: string, mayHaveLanded: boolean): Promise<'added' | 'gone' | 'out_of_scope'> {
  try {
    const target = targetOf(deps, link);
    if (mayHaveLanded && (await noteInRecord(deps, target, link.reference, own))) return 'added';
    // Before the PATCH: a crash or timeout after it leaves this mark for the retry (it lives as long as the job), and
    // names the record, which a retry reads even when the link is gone by then.
    await deps.ledger.notes.markSent(marks, target);
    await appendNote(deps, link, message, marks, own);
    return 'added';
  } catch (err) {
    if (deletedInPrimero(err)) return 'gone';
    if (outOfScope(err)) return 'out_of_scope';
    throw err;
  }
}

/**
 * What a failed PATCH of the note tells a retry: only a PATCH that may have reached Primero leaves `noteSent`. Primero
 * authorizes (CanCan's authorize_update!, 403) and finds the record (404) before it saves, in `update` of
 * app/controllers/api/v2/concerns/record.rb: such an answer wrote nothing, and the job files the words alone, so it
 * is kept (`noteRefused`) and a retry after a failed filing files them alone too, without reading a record that
 * answers 403 (and would make it a dead letter). Another 4xx, or a connection never made, cannot have landed either.
 */
async function recordPatchFailure(deps: IntakeDeps, marks: NoteJob, err: unknown): Promise<void> {
  if (deletedInPrimero(err) || outOfScope(err)) return deps.ledger.notes.markRefused(marks);
  if (cannotHaveLanded(err)) return deps.ledger.notes.unmarkSent(marks);
}

async function appendNote(deps: IntakeDeps, link: CaseLink, message: InboundMessage, marks: NoteJob, own: string): Promise<void> {
  const target = notesTarget(deps, link.intent);
  const text = [message.text, ...message.attachments.map((a) => `Attachment: ${a}`)].filter((t): t is string => !!t).join(TEXT_SEPARATOR);
  const entry: Record<string, string> = { unique_id: reporterMessageEntryId(own), [target.subject_field]: reporterMessageSubject(message.channel), [target.text_field]: text };
  if (target.date_field) entry[target.date_field] = message.receivedAt;
  let changed: Record<string, unknown>;
  try {
    // Primero merges subform entries by unique_id; it answers with what changed and drops a form the role may not write.
    changed = await deps.primero.updateRecord(link.recordType, link.caseId, { [target.subform]: [entry] });
  } catch (err) {
    await recordPatchFailure(deps, marks, err);
    throw err;
  }
  if (!holdsEntry(changed[target.subform], entry.unique_id!)) await entryStored(deps, link, target.subform, entry.unique_id!, NOTE_UNCONFIRMED_READ_BACK);
}

async function notifyFollowUp(deps: IntakeDeps, link: CaseLink, own: string): Promise<void> {
  const snapshot = await deps.snapshots.get(link.caseId);
  const plan = planForFollowUp(
    {
      recordType: link.recordType,
      recordId: link.caseId,
      caseIdDisplay: snapshot?.caseIdDisplay ?? link.caseIdDisplay,
      urgent: snapshot?.urgent ?? link.urgent ?? false,
      sensitive: link.sensitive,
      own,
      ownedBy: snapshot?.ownedBy ?? null,
      assignedUserNames: snapshot?.assignedUserNames ?? [],
    },
    deps.plan,
  );
  // A retry after a crash here dispatches again; the keys (which name this message) dedupe.
  await deps.dispatcher.dispatch(plan, link.reference);
}

/**
 * The link is gone (forgotten, or past REFERENCE_RETENTION_DAYS), or was made again for another record, after an
 * earlier attempt's PATCH may have put the note in the record: the record `noteSent` names is read. Holding the note,
 * the words are in Primero (noted; no alerts, as for any noted follow-up whose link is gone); without it, they are
 * filed alone, as sensitive as that record. A 403 or 404, or marks naming no record, cannot tell: a dead letter rather
 * than perhaps a second case.
 */
async function afterSendUnlinked(deps: IntakeDeps, message: InboundMessage, marks: NoteJob, target: NoteTarget | null, own: string, fileAlone: FileAlone): Promise<void> {
  if (!target) {
    await deps.trace.record(message.mergeInto!, 'follow_up_note_unconfirmed', { own });
    throw new UnrecoverableError(NOTE_UNCONFIRMED_UNLINKED);
  }
  if (await noteInRecord(deps, target, message.mergeInto!, own)) {
    await deps.ledger.notes.markNoted(marks);
    return deps.trace.record(message.mergeInto!, 'follow_up_added', { recordId: target.recordId, own });
  }
  // Not in the record it went to: filed alone, as sensitive as that record, also when a link to another record exists
  // now (joining it could show a sensitive record's words to that record's caseworkers, and a late commit of the first
  // PATCH would leave them in both). noteSent stays: a retry before the case is linked reads this record again.
  await deps.trace.record(message.mergeInto!, 'follow_up_unlinked', { own });
  return fileAloneMarked(deps, marks, { ...alone(message, own, null), sensitive: message.sensitive || target.sensitive }, fileAlone);
}

/**
 * A retry of a follow-up an earlier attempt set out to file alone (and whose own record is not linked yet). When a
 * PATCH of its note had gone out before (`noteSent` still names a record), that PATCH may have committed late, after
 * the read that decided to file alone: the record is read again, and a note found there ends it (noted), never the
 * words in a case of their own as well.
 */
async function finishFilingAlone(deps: IntakeDeps, message: InboundMessage, marks: NoteJob, sentTo: NoteTarget | null, own: string, sensitive: boolean, fileAlone: FileAlone): Promise<void> {
  if (sentTo && (await noteInRecord(deps, sentTo, message.mergeInto!, own))) {
    await deps.ledger.notes.markNoted(marks);
    return deps.trace.record(message.mergeInto!, 'follow_up_added', { recordId: sentTo.recordId, own });
  }
  await fileAlone({ ...alone(message, own, null), sensitive: message.sensitive || sensitive });
}

/** Files the words alone, marked first (src/store/follow-up-notes.ts markFiledAlone): no later run adds them as a note. */
async function fileAloneMarked(deps: IntakeDeps, marks: NoteJob, message: InboundMessage, fileAlone: FileAlone): Promise<void> {
  await deps.ledger.notes.markFiledAlone(marks, message.sensitive);
  await fileAlone(message);
}

/**
 * A follow-up: the sender's message added to their open record as a note, then its workers alerted. When it
 * cannot join (the link expired or was forgotten, or the record left the API user's scope) it becomes a record
 * of its own under its own reference, sensitive if its target was: never lost, never shown to the wrong people.
 */
export async function addReporterMessage(deps: IntakeDeps, job: Job, message: InboundMessage, fileAlone: FileAlone): Promise<void> {
  const own = intakeJobId.ownReferenceOf(job.id ?? '');
  if (!own) throw new UnrecoverableError('a follow-up job whose id names no reference of its own');
  // An earlier attempt already filed it alone: finish that, never add it to the record as well.
  const filed = await deps.references.get(own);
  if (filed) return fileAlone(alone(message, own, filed));
  const link = await deps.references.get(message.mergeInto!);
  const marks: NoteJob = { jobKey: jobKey(job), idempotencyKey: message.idempotencyKey, acceptanceId: message.acceptanceId };
  const { state: progress, sentTo, aloneSensitive } = await deps.ledger.notes.progress(marks);
  // An earlier attempt set out to file the words alone: finish that, as sensitive as it decided, whatever links say now.
  if (progress === 'alone') return finishFilingAlone(deps, message, marks, sentTo, own, aloneSensitive, fileAlone);
  // The link is gone, or was made again for another record than the one the note went to.
  const linkedElsewhere = !link || (sentTo !== null && sentTo.recordId !== link.caseId);
  // An earlier attempt added the note: these words are in the record, so they are never filed again as a case,
  // whatever the record says now (gone, or out of scope); only the alerts may be left to send.
  // Only the caseworkers of the record that holds it: a link made again meanwhile for another record is not it.
  if (progress === 'noted') return linkedElsewhere ? undefined : notifyFollowUp(deps, link!, own);
  // Primero refused the note (nothing written) and an earlier attempt set out to file the words alone: finish that.
  if (progress === 'refused') return fileAloneMarked(deps, marks, alone(message, own, link), fileAlone);
  // The record the note went to is read, not the one the link names now.
  if (progress === 'sent' && linkedElsewhere) return afterSendUnlinked(deps, message, marks, sentTo, own, fileAlone);
  if (!link) {
    await deps.trace.record(message.mergeInto!, 'follow_up_unlinked', { own });
    return fileAloneMarked(deps, marks, alone(message, own, null), fileAlone);
  }
  const added = await addNoteOnce(deps, link, message, marks, own, progress !== 'none');
  if (added !== 'added') {
    await deps.trace.record(link.reference, added === 'gone' ? 'follow_up_record_gone' : 'follow_up_out_of_scope', { recordId: link.caseId, own });
    return fileAloneMarked(deps, marks, alone(message, own, link), fileAlone);
  }
  await deps.ledger.notes.markNoted(marks);
  await deps.trace.record(link.reference, 'follow_up_added', { recordId: link.caseId, own });
  deps.logger.info({ reference: link.reference, own, caseId: link.caseId, sensitive: link.sensitive }, 'reporter message added to the record');
  await notifyFollowUp(deps, link, own);
}

/** The message as a record of its own: as sensitive as its target, whatever an older job's envelope says. */
const alone = (message: InboundMessage, own: string, link: CaseLink | null): InboundMessage => ({
  ...message,
  reference: own,
  mergeInto: null,
  followUp: false,
  sensitive: message.sensitive || (link?.sensitive ?? false),
});
