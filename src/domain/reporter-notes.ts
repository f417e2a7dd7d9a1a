import { foldText } from './text-fold';
import { uuidV5 } from './uuid';

/*
 * Field names of Primero's case notes subform, as its seeds define them (primeroIMS/primero:
 * db/configuration/forms/case/field_notes.rb): `notes_section` entries with `note_subject`, `note_text`,
 * `note_date` and `note_created_by`. Primero fills `note_created_by` with the saving user when a note has no
 * author or date yet (app/models/concerns/noteable.rb, save_notes), and gives every subform entry a
 * `unique_id` when it has none (app/models/concerns/record.rb, populate_subform_ids).
 */
export const NOTES_FIELD = 'notes_section';

/** A caseworker's note addressed to the person who wrote in. Its text is personal data: never logged. */
export interface ReporterNote {
  noteId: string;
  text: string;
  /** The Primero user who wrote it (note_created_by), when Primero recorded one. */
  author: string | null;
}

const MAX_NOTE_ID = 200;

const stringOf = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/**
 * The notes whose whole subject, folded (case, accents), is the configured subject, with an id and some text.
 * A note id is a caseworker's (or a client's) choice: one longer than any Primero would give is not trusted.
 */
export function reporterNotesOf(notes: unknown, subject: string): ReporterNote[] {
  if (!Array.isArray(notes)) return [];
  const wanted = foldText(subject);
  const out: ReporterNote[] = [];
  for (const entry of notes as unknown[]) {
    const note = reporterNoteOf(entry, wanted);
    if (note) out.push(note);
  }
  return out;
}

function reporterNoteOf(entry: unknown, foldedSubject: string): ReporterNote | null {
  if (!entry || typeof entry !== 'object') return null;
  const note = entry as Record<string, unknown>;
  const noteId = stringOf(note.unique_id)?.trim() ?? '';
  const text = stringOf(note.note_text)?.trim() ?? '';
  if (!noteId || noteId.length > MAX_NOTE_ID || !text) return null;
  if (foldText(stringOf(note.note_subject) ?? '') !== foldedSubject) return null;
  return { noteId, text, author: stringOf(note.note_created_by)?.trim() || null };
}

/**
 * The note as the record holds it now: the caseworker may have deleted it, re-titled it or rewritten it since it
 * was detected. `unreadable` is a record answered without the notes form (the API role may not read it).
 */
export type NoteNow = { is: 'current'; note: ReporterNote } | { is: 'changed' } | { is: 'removed' } | { is: 'unreadable' };

/**
 * The entry of `notes` (a notes_section value) whose `unique_id` is `noteId`. Ids are compared trimmed, as
 * `reporterNotesOf` reads them: every reader of one note (detector, sender, history) must find the same entry.
 */
export function noteEntryById(notes: unknown, noteId: string): Record<string, unknown> | null {
  if (!Array.isArray(notes)) return null;
  const entry = (notes as unknown[]).find((n) => !!n && typeof n === 'object' && stringOf((n as Record<string, unknown>).unique_id)?.trim() === noteId);
  return (entry as Record<string, unknown> | undefined) ?? null;
}

export function noteNow(notes: unknown, noteId: string, subject: string): NoteNow {
  if (!Array.isArray(notes)) return { is: 'unreadable' };
  const entry = noteEntryById(notes, noteId);
  if (!entry) return { is: 'removed' };
  const note = reporterNoteOf(entry, foldText(subject));
  return note ? { is: 'current', note } : { is: 'changed' };
}

/** How a caseworker's message ended, as the outcome note, the trace and the metric name it. */
export const CASEWORKER_OUTCOMES = ['sent', 'sent_template', 'opted_out', 'not_safe', 'sensitive', 'no_channel', 'no_address', 'note_changed', 'notes_unreadable', 'not_confirmed', 'refused', 'failed'] as const;
export type CaseworkerOutcome = (typeof CASEWORKER_OUTCOMES)[number];

/** What the caseworker reads: the gateway's own fixed words, never the person's number nor the message. */
const OUTCOME_WORDS: Record<Exclude<CaseworkerOutcome, 'sent'>, string> = {
  sent_template: "sent an invitation to write back (outside WhatsApp's 24-hour window); your message itself was not sent",
  opted_out: 'failed: the person opted out',
  not_safe: 'not sent: contact not marked safe',
  sensitive: 'not sent: sensitive record',
  no_channel: 'not sent: no channel',
  no_address: 'not sent: no address to reach the person',
  note_changed: 'not sent: the note was changed or removed; write a new note to send it',
  notes_unreadable: "not sent: the gateway's Primero user cannot read the notes form (tell the administrator)",
  not_confirmed: 'not confirmed: the provider did not answer; it may have arrived',
  refused: 'failed: the provider refused the message; write a new note to try again',
  failed: 'failed: the provider could not be reached; write a new note to try again',
};

/**
 * The outcome note's subject. It always extends the configured subject, so it can never fold equal to it
 * (the detector compares whole subjects): an outcome note is never itself sent.
 */
export function outcomeSubject(subject: string, outcome: CaseworkerOutcome, at: Date): string {
  const words = outcome === 'sent' ? `sent ${at.toISOString().slice(0, 16).replace('T', ' ')} UTC` : OUTCOME_WORDS[outcome];
  return `${subject}: ${words}`;
}

/** The outcome note's own id, derived from the note's: a retry rewrites the same entry (Primero merges subforms by unique_id). */
export function outcomeNoteId(recordId: string, noteId: string): string {
  return uuidV5(`caseworker-message-outcome:${recordId}:${noteId}`);
}

/** The `notes_section` entry carrying the outcome back to the case. */
export function outcomeNoteEntry(subject: string, outcome: CaseworkerOutcome, at: Date, ids: { recordId: string; noteId: string; reference: string }): { unique_id: string; note_subject: string; note_text: string } {
  return {
    unique_id: outcomeNoteId(ids.recordId, ids.noteId),
    note_subject: outcomeSubject(subject, outcome, at),
    note_text: `The gateway's answer to your note to the person who wrote in (reference ${ids.reference}).`,
  };
}

/** A clear yes only: true, "true" or "yes" (any case). Anything else, missing included, is no. */
export function isClearYes(value: unknown): boolean {
  if (value === true) return true;
  return typeof value === 'string' && ['true', 'yes'].includes(foldText(value));
}

/** What the send-time gates read, fresh: the record's answer and the person's opt-out can change after the note. */
export interface GateFacts {
  sensitive: boolean;
  author: string | null;
  /** REPLY_SENSITIVE_ALLOWED: Primero users who may message the reporter of a sensitive record. */
  sensitiveAllowed: readonly string[];
  optedOut: boolean;
  /** The value of the mapping's safe_to_contact_field on the record (undefined: no field, or no answer). */
  safeToContact: unknown;
  hasSender: boolean;
  hasAddress: boolean;
}

/** The first gate that stops the message, or null when it may go. */
export function gateOutcome(f: GateFacts): CaseworkerOutcome | null {
  if (f.sensitive && (f.author === null || !f.sensitiveAllowed.includes(f.author))) return 'sensitive';
  if (f.optedOut) return 'opted_out';
  if (!isClearYes(f.safeToContact)) return 'not_safe';
  if (!f.hasSender) return 'no_channel';
  if (!f.hasAddress) return 'no_address';
  return null;
}
