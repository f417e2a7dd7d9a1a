import type { PrimeroClient, RecordType } from '../clients/primero';
import { DeliveryError } from '../clients/delivery-error';
import { lastNoteChange } from '../domain/note-author';

const PER_PAGE = 50;
/** A note changed longer ago than this many saves is read as unknown (ambiguous): the sensitive gate then refuses. */
const MAX_PAGES = 4;

/**
 * The Primero user who last changed a note's words, from the record's history; null when the history cannot say
 * (no change entry found, the history disagrees with the record, or Primero refused the read). Read for
 * sensitive records only: the history holds every change of the record, so it is read, used and dropped here.
 */
export async function noteAuthorFromHistory(primero: Pick<PrimeroClient, 'recordHistoryPage'>, type: RecordType, id: string, noteId: string, current: Record<string, unknown>): Promise<string | null> {
  for (let page = 1; page <= MAX_PAGES; page++) {
    let read: { entries: unknown[]; total: number };
    try {
      read = await primero.recordHistoryPage(type, id, page, PER_PAGE);
    } catch (err) {
      // A 403 (no change_log right) or any other refusal (a Primero without the endpoint answers 404): it cannot say.
      if (err instanceof DeliveryError && err.kind === 'permanent') return null;
      throw err;
    }
    const found = lastNoteChange(read.entries, noteId, current);
    if (found.is === 'author') return found.user;
    if (found.is === 'ambiguous' || page * PER_PAGE >= read.total || read.entries.length === 0) return null;
  }
  return null;
}
