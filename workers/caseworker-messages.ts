import { UnrecoverableError, type Job, type Queue } from 'bullmq';
import { holdsEntry } from '../src/cases/merge';
import { DeliveryError, isRecordOutOfScope } from '../src/clients/delivery-error';
import type { PrimeroClient } from '../src/clients/primero';
import type { InboundMessage } from '../src/domain/inbound-message';
import { gateOutcome, noteEntryById, noteNow, outcomeNoteEntry, NOTES_FIELD, type CaseworkerOutcome, type NoteNow, type ReporterNote } from '../src/domain/reporter-notes';
import type { Logger } from '../src/logger';
import type { MappingSet } from '../src/mappings';
import type { CaseworkerMessageJob } from '../src/queues/caseworker-messages';
import { rethrowForQueue } from '../src/queues/failure-policy';
import { openJob } from '../src/queues/open-job';
import { noteAuthorFromHistory } from '../src/replies/note-author';
import type { PersonSender } from '../src/replies/person-sender';
import type { PayloadCodec } from '../src/security/payload-codec';
import type { CaseworkerMessageLedger, LedgerEntry } from '../src/store/caseworker-messages';
import type { ContactStore } from '../src/store/contacts';
import type { SharedCounters } from '../src/store/counters';
import type { TraceStore } from '../src/store/trace';
import { tracedReason } from '../src/notifications/unverified-starts';

export interface CaseworkerMessageDeps {
  codec: PayloadCodec;
  ledger: CaseworkerMessageLedger;
  contacts: ContactStore;
  primero: Pick<PrimeroClient, 'getRecord' | 'updateRecord' | 'recordHistoryPage'>;
  mappings: MappingSet;
  /** The channel's sender, or null when it is not configured in this process. */
  senderFor(channel: string): PersonSender | null;
  /** REPLY_NOTE_SUBJECT and REPLY_SENSITIVE_ALLOWED. */
  subject: string;
  sensitiveAllowed: readonly string[];
  trace: TraceStore;
  counters: SharedCounters;
  logger: Logger;
  queue: Queue;
  authFailurePauseMs: number;
  /** What the reference link says of "safe to contact" (the person's own no, kept even when a PATCH of it failed). */
  linkSafe?: (reference: string) => Promise<boolean | null>;
}


/**
 * Counted and traced once, when the outcome is settled: words only, never the text or the address. The trace and the
 * log line name the reference, so a "not safe" or "sensitive" there says `held_back` (tracedReason); the counter,
 * which names none, and the note on the case, which Primero's caseworkers read beside the field itself, keep it exact.
 */
function settled(deps: CaseworkerMessageDeps, m: CaseworkerMessageJob, outcome: CaseworkerOutcome): void {
  deps.counters.increment('gateway_caseworker_messages_total', { outcome });
  deps.trace.record(m.reference, 'caseworker_message', { outcome: tracedReason(outcome) }).catch(() => undefined);
  deps.logger.info({ reference: m.reference, outcome: tracedReason(outcome) }, 'caseworker message settled');
}

/**
 * Writes the outcome back as a note the caseworker sees (its id derives from the note's, so a retry rewrites it),
 * then closes the ledger entry. A 403 is the record out of the API user's scope: nothing more can be done.
 */
async function noteOutcome(deps: CaseworkerMessageDeps, m: CaseworkerMessageJob, owner: string, outcome: CaseworkerOutcome, at: Date): Promise<string> {
  const entry = outcomeNoteEntry(deps.subject, outcome, at, m);
  let stored = true;
  try {
    const changed = await deps.primero.updateRecord(m.recordType, m.recordId, { [NOTES_FIELD]: [entry] });
    stored = holdsEntry(changed[NOTES_FIELD], entry.unique_id) || (await outcomeOnRecord(deps, m, entry.unique_id));
  } catch (err) {
    if (!isRecordOutOfScope(err)) return rethrowForQueue(err, deps.queue, deps.logger, deps.authFailurePauseMs);
    deps.logger.warn({ reference: m.reference, outcome: tracedReason(outcome) }, 'the outcome note could not be written: the record is out of the API user\'s scope');
  }
  // A role that may not write notes will not gain the right on a retry: said loudly, and the note is settled as is.
  if (!stored) {
    deps.counters.increment('gateway_caseworker_outcome_notes_dropped_total', { outcome });
    deps.logger.error({ reference: m.reference, outcome: tracedReason(outcome) }, "PRIMERO CONFIGURATION FAULT: Primero accepted the outcome note but did not store it (the API user's role may not write the notes form); the caseworker cannot see what happened");
  }
  await deps.ledger.markNoted(m.recordId, m.noteId, owner);
  // The job's return value lands in BullMQ's events stream under the job, which holds the reference.
  return stored ? tracedReason(outcome) : 'outcome_dropped';
}

/** Primero answers a PATCH with what it changed: our entry absent means unchanged (an earlier attempt wrote it) or dropped. */
async function outcomeOnRecord(deps: CaseworkerMessageDeps, m: CaseworkerMessageJob, uniqueId: string): Promise<boolean> {
  return holdsEntry((await deps.primero.getRecord(m.recordType, m.recordId, [NOTES_FIELD]))[NOTES_FIELD], uniqueId);
}

async function settleAndNote(deps: CaseworkerMessageDeps, m: CaseworkerMessageJob, owner: string, outcome: CaseworkerOutcome): Promise<string> {
  const at = new Date();
  if (!(await deps.ledger.settle(m.recordId, m.noteId, owner, outcome, at))) return 'duplicate';
  settled(deps, m, outcome);
  return noteOutcome(deps, m, owner, outcome, at);
}

/**
 * The note and the record's "safe to contact" answer, read now in one GET: the caseworker may have deleted, re-titled
 * or rewritten the note, or changed the answer, since it was detected. A 403 is the record out of the API user's scope.
 */
async function readNow(deps: CaseworkerMessageDeps, m: CaseworkerMessageJob): Promise<{ now: NoteNow; safe: unknown; notes?: unknown }> {
  const field = deps.mappings.get(m.intent as InboundMessage['intent'])?.safe_to_contact_field;
  let record: Record<string, unknown>;
  try {
    record = await deps.primero.getRecord(m.recordType, m.recordId, field ? [NOTES_FIELD, field] : [NOTES_FIELD]);
  } catch (err) {
    if (isRecordOutOfScope(err)) return { now: { is: 'unreadable' }, safe: undefined };
    throw err;
  }
  return { now: noteNow(record[NOTES_FIELD], m.noteId, deps.subject), safe: field ? record[field] : undefined, notes: record[NOTES_FIELD] };
}

const rawNote = (notes: unknown, noteId: string): Record<string, unknown> => noteEntryById(notes, noteId) ?? {};

/** What stops the message, or the note as it stands now (its current words are what is sent). */
async function gate(deps: CaseworkerMessageDeps, m: CaseworkerMessageJob): Promise<CaseworkerOutcome | ReporterNote> {
  const { now, safe, notes } = await readNow(deps, m);
  if (now.is === 'unreadable') {
    deps.counters.increment('gateway_caseworker_notes_unreadable_total', { at: 'send' });
    deps.logger.warn({ reference: m.reference }, "caseworker message not sent: the record was answered without its notes form (the API user's role may not read it)");
    return 'notes_unreadable';
  }
  if (now.is !== 'current') return 'note_changed';
  const address = m.urn ?? m.contactUuid;
  const stopped = gateOutcome({
    sensitive: m.sensitive,
    // note_created_by is whatever the entry says (any editor keeps or sets it): a sensitive record asks the history.
    author: m.sensitive ? await noteAuthorFromHistory(deps.primero, m.recordType, m.recordId, m.noteId, rawNote(notes, m.noteId)) : now.note.author,
    sensitiveAllowed: deps.sensitiveAllowed,
    optedOut: address !== null && (await deps.contacts.isOptedOut(address)),
    // The link's no wins over the record's yes: a merged report's "not safe" may not have reached Primero yet.
    safeToContact: (await deps.linkSafe?.(m.reference)) === false ? false : safe,
    hasSender: deps.senderFor(m.channel) !== null,
    hasAddress: address !== null,
  });
  return stopped ?? now.note;
}

/**
 * A failed send. A DeliveryError hinted `maybe_sent` may have reached the person, and is never sent again. Any other
 * failure proves nothing went out: an answer that refused it, a connection never made, or the sender's own error
 * before any request (senders run every request inside providerCall, which turns what follows it into `maybe_sent`).
 * Then the claim is given back and the send retried (or, refused, reported).
 */
async function failedSend(deps: CaseworkerMessageDeps, m: CaseworkerMessageJob, job: Job, err: unknown): Promise<string> {
  const owner = job.id!;
  const delivery = err instanceof DeliveryError ? err : null;
  if (delivery?.hint?.is === 'maybe_sent') return settleAndNote(deps, m, owner, 'not_confirmed');
  if (delivery?.hint?.is === 'opted_out') return providerOptOut(deps, m, owner);
  if (delivery?.kind === 'permanent') {
    await settleAndNote(deps, m, owner, 'refused');
    throw new UnrecoverableError(delivery.message);
  }
  await deps.ledger.release(m.recordId, m.noteId, owner);
  const lastAttempt = (delivery === null || delivery.kind === 'transient') && job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
  if (lastAttempt) {
    await settleAndNote(deps, m, owner, 'failed');
    throw err;
  }
  return rethrowForQueue(err, deps.queue, deps.logger, deps.authFailurePauseMs);
}

/**
 * The provider says the person asked it to stop our messages: recorded as the gateway's own opt-out (on the URN the
 * message went to), so no other notification goes to them either, and the caseworker reads that they opted out.
 */
async function providerOptOut(deps: CaseworkerMessageDeps, m: CaseworkerMessageJob, owner: string): Promise<string> {
  if (m.urn) await deps.contacts.optOut(m.urn);
  deps.logger.info({ reference: m.reference, channel: m.channel }, 'the provider says the person opted out: recorded');
  return settleAndNote(deps, m, owner, 'opted_out');
}

/** Claims the note, sends it, and settles what happened. */
async function send(deps: CaseworkerMessageDeps, m: CaseworkerMessageJob, job: Job, sender: PersonSender, text: string): Promise<string> {
  const owner = job.id!;
  const held = await deps.ledger.claim(m.recordId, m.noteId, owner);
  if (held) return resume(deps, m, owner, held);
  let outcome: CaseworkerOutcome;
  try {
    const sent = await sender.send({ urn: m.urn ?? '', contactUuid: m.contactUuid, text, language: null, reference: m.reference });
    outcome = sent.sent === 'text' ? 'sent' : 'sent_template';
  } catch (err) {
    return failedSend(deps, m, job, err);
  }
  return settleAndNote(deps, m, owner, outcome);
}

const isReplayable = (entry: LedgerEntry, owner: string) => entry.owner === owner && entry.state === 'noted' && (entry.outcome === 'failed' || entry.outcome === 'refused');

/** What an earlier attempt of this job left: a claim without an outcome may have been sent, so it never is again. */
async function resume(deps: CaseworkerMessageDeps, m: CaseworkerMessageJob, owner: string, entry: LedgerEntry): Promise<string> {
  if (entry.owner !== owner) return 'duplicate';
  if (entry.state === 'noted') return 'already-noted';
  if (entry.state === 'final' && entry.outcome) return noteOutcome(deps, m, owner, entry.outcome, entry.at ? new Date(entry.at) : new Date());
  return settleAndNote(deps, m, owner, 'not_confirmed');
}

/**
 * Sends a caseworker's note to the person at most once: the ledger entry is claimed before the send and settled
 * after it, and the outcome goes back to the case as a note. The note itself and the gates are read again just
 * before the claim: what goes out is the note's words as they stand then, never a copy taken at detection.
 */
export function caseworkerMessageProcessor(deps: CaseworkerMessageDeps) {
  return async (job: Job<CaseworkerMessageJob>): Promise<string> => {
    const m = openJob(deps.codec, job);
    const owner = job.id!;
    const entry = await deps.ledger.get(m.recordId, m.noteId);
    // The same job again after "failed" or "refused" (only a replayed dead letter): nothing went out, so it may send.
    if (entry && !(isReplayable(entry, owner) && (await deps.ledger.reopen(m.recordId, m.noteId, owner)))) return resume(deps, m, owner, entry);
    let gated: CaseworkerOutcome | ReporterNote;
    try {
      gated = await gate(deps, m);
    } catch (err) {
      return rethrowForQueue(err, deps.queue, deps.logger, deps.authFailurePauseMs);
    }
    if (typeof gated === 'string') return settleAndNote(deps, m, owner, gated);
    return send(deps, m, job, deps.senderFor(m.channel)!, gated.text);
  };
}
