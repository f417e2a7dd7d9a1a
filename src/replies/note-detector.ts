import type { PrimeroClient, RecordType } from '../clients/primero';
import { isRecordOutOfScope } from '../clients/delivery-error';
import { isClearYes, NOTES_FIELD, reporterNotesOf } from '../domain/reporter-notes';
import { addressableUrn } from '../domain/urn';
import type { Logger } from '../logger';
import type { CaseworkerMessageProducer } from '../queues/caseworker-messages';
import type { CaseworkerMessageLedger } from '../store/caseworker-messages';
import type { SharedCounters } from '../store/counters';
import type { CaseLink, ReferenceStore } from '../store/references';
import type { SafeRead } from '../domain/safe-to-contact-look';

export interface NoteDetectorDeps {
  primero: Pick<PrimeroClient, 'getRecord'>;
  references: ReferenceStore;
  ledger: CaseworkerMessageLedger;
  producer: CaseworkerMessageProducer;
  /** REPLY_NOTE_SUBJECT. */
  subject: string;
  logger: Logger;
  counters: Pick<SharedCounters, 'increment'>;
  /** The record's "safe to contact" field, from the mapping of the intent it was created for (none: not asked). */
  safeFieldOf: (intent: string) => string | undefined;
}

/** How many notes were queued, and what the read could say of the record's safe-to-contact field. */
export interface NoteLook {
  queued: number;
  safe: SafeRead;
}

const NOTHING_ASKED: NoteLook = { queued: 0, safe: 'not_asked' };

/**
 * Finds a caseworker's notes to the person on a record the gateway created, and queues each one not yet handled.
 * The notes are always read from Primero: a webhook body holds only what the webhook role may read (and the events
 * route keeps none of it), and a note alone changes nothing but `last_updated_at`. A 403 on the read is the record
 * out of the API user's scope: nothing can be sent for it, nor an outcome written back.
 */
export class NoteDetector {
  constructor(private readonly deps: NoteDetectorDeps) {}

  /**
   * The notes queued (none for a record the gateway did not create), and whether the read answered for the safe field
   * (a 403 did not: the job's status messages wait for a word on it). Throws on a read that may succeed later.
   */
  async detect(recordType: RecordType, recordId: string): Promise<NoteLook> {
    const { references, primero, ledger, producer } = this.deps;
    const reference = await references.referenceOfRecord(recordId);
    const link = reference ? await references.get(reference) : null;
    if (!link) return NOTHING_ASKED;
    const safeField = this.deps.safeFieldOf(link.intent);
    const safe: SafeRead = safeField ? 'read' : 'not_asked';
    let record: Record<string, unknown>;
    try {
      record = await primero.getRecord(recordType, recordId, safeField ? [NOTES_FIELD, safeField] : [NOTES_FIELD]);
    } catch (err) {
      if (isRecordOutOfScope(err)) return { queued: 0, safe: safeField ? 'refused' : 'not_asked' };
      throw err;
    }
    // The link follows the record down, never up: a caseworker who unticks "safe to contact" silences the gateway's
    // own status messages and STATUS answers from this look on (this job's notifications are planned after it); a
    // no already on the link (the person's, or a caseworker's) is never undone by a yes the record may still show
    // (a merged report's "not safe" PATCH may not have landed). Unknown becomes what the record says. The store
    // decides against the link as it is now, not as read above: a merge may have lowered it during the read.
    if (safeField && safeField in record) await references.followRecordSafeToContact(link.reference, isClearYes(record[safeField]), safeField);
    const seen = safeField && !(safeField in record) && typeof link.safeToContact === 'boolean' ? this.safeMissing(link, safeField, recordType) : safe;
    if (!(NOTES_FIELD in record)) return { queued: this.unreadable(link.reference), safe: seen };
    let queued = 0;
    for (const note of reporterNotesOf(record[NOTES_FIELD], this.deps.subject)) {
      // Any ledger entry means a job holds or has handled this note: every webhook re-reads all notes.
      if (await ledger.get(recordId, note.noteId)) continue;
      await producer.enqueue({
        reference: link.reference,
        recordType,
        recordId,
        noteId: note.noteId,
        channel: link.channel,
        intent: link.intent,
        sensitive: link.sensitive,
        // A link stored before redacted URNs were read as none may hold `tel:********`: never an address.
        urn: addressableUrn(link.urn),
        contactUuid: link.contactUuid ?? null,
      });
      queued++;
    }
    if (queued > 0) this.deps.logger.info({ reference: link.reference, notes: queued }, 'caseworker messages queued');
    return { queued, safe: seen };
  }

  /**
   * A record the gateway holds an answer for (it wrote one, or Primero showed one) read back without the field: the
   * API user's role may not read it (a caseworker's "not safe" there would never be seen), or may not write it
   * (Primero dropped the person's answer at the create: caseworkers never see it). Said at every such read. Only
   * once Primero has shown the field is it certainly unreadable: then the look's status messages wait.
   */
  private safeMissing(link: CaseLink, field: string, recordType: RecordType): SafeRead {
    const seenBefore = link.safeSeen === field;
    this.deps.counters.increment('gateway_safe_to_contact_unreadable_total', { record_type: recordType });
    this.deps.logger.warn({ reference: link.reference, seenBefore }, "the safe-to-contact field is missing from this record's read: the API user's role may not read it, or may not write it (Primero drops such a field from a create)");
    return seenBefore ? 'unreadable' : 'read';
  }

  /**
   * Primero answers only the fields the API role may read: a gateway record without its notes form means no
   * caseworker note can ever be seen. Said at every look at such a record (once per look), never silently.
   */
  private unreadable(reference: string): number {
    this.deps.counters.increment('gateway_caseworker_notes_unreadable_total', { at: 'detection' });
    this.deps.logger.warn({ reference }, "caseworker notes cannot be read on this record: Primero answered without notes_section (the API user's role may not read the notes form)");
    return 0;
  }
}
