import { noteEntryById } from './reporter-notes';

/*
 * Who last wrote a note, from Primero's record history rather than the note's own `note_created_by` (which Primero
 * keeps as written once set, app/models/concerns/noteable.rb, so any editor can keep or forge it). Primero writes one
 * history entry per save that changed the record's data (app/models/concerns/historical.rb, update_history), under
 * `last_updated_by`, which it sets to the saving user after merging the request (app/models/concerns/record.rb,
 * update_properties), with `record_changes` holding each changed field's whole value before and after.
 */

type Entry = Record<string, unknown>;

/** What a caseworker wrote: the fields that make the note's message (not its date, nor ids Primero adds). */
const wordsOf = (note: Entry | null): string | null => (note ? JSON.stringify([note.note_subject ?? null, note.note_text ?? null]) : null);

function notesChangeOf(entry: unknown): { from: unknown; to: unknown } | null {
  const changes = (entry as { record_changes?: unknown } | null)?.record_changes;
  if (!Array.isArray(changes)) return null;
  for (const change of changes as unknown[]) {
    const notes = (change as Entry | null)?.notes_section as { from?: unknown; to?: unknown } | undefined;
    if (notes && typeof notes === 'object') return { from: notes.from, to: notes.to };
  }
  return null;
}

/**
 * In history entries newest first: 'author' with the user of the newest save that changed this note's words, when
 * it left them as they stand now; 'ambiguous' when that save left other words (the history disagrees with the
 * record); 'not_found' when no entry on these pages changed them.
 */
export function lastNoteChange(entries: readonly unknown[], noteId: string, current: Entry): { is: 'author'; user: string } | { is: 'ambiguous' } | { is: 'not_found' } {
  for (const entry of entries) {
    const change = notesChangeOf(entry);
    if (!change) continue;
    const after = wordsOf(noteEntryById(change.to, noteId));
    if (after === wordsOf(noteEntryById(change.from, noteId))) continue;
    const user = (entry as { user_name?: unknown }).user_name;
    if (after !== wordsOf(current) || typeof user !== 'string' || !user) return { is: 'ambiguous' };
    return { is: 'author', user };
  }
  return { is: 'not_found' };
}
