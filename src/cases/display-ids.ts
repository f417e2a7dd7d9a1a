import { DeliveryError } from '../clients/delivery-error';
import type { PrimeroClient } from '../clients/primero';
import { displayIdOf } from '../domain/record-events';
import type { Logger } from '../logger';
import type { ReferenceStore } from '../store/references';
import type { SnapshotStore } from '../store/snapshots';

type RecordType = 'case' | 'incident';

const DISPLAY_FIELDS: Record<RecordType, string[]> = { case: ['id', 'case_id_display', 'short_id'], incident: ['id', 'short_id', 'incident_code'] };

/**
 * The display id caseworkers know a record by, read only where it is shown (a push alert's text). A create does
 * not return it (see createRecord), so it comes from the record's last look (webhooks and polls carry it when the
 * webhook role may read it), else the link (kept there once read), else one read of just those fields, kept on the
 * link. Null when Primero cannot say: the alert then names the record by its id's start, as before.
 */
export class DisplayIds {
  constructor(
    private readonly snapshots: Pick<SnapshotStore, 'get'>,
    private readonly references: Pick<ReferenceStore, 'referenceOfRecord' | 'get' | 'keepDisplayId'>,
    private readonly primero: Pick<PrimeroClient, 'getRecord'>,
    private readonly logger: Logger,
  ) {}

  // A new case alerts every subscribed caseworker at once, each alert its own push job: they share one read.
  private readonly reading = new Map<string, Promise<string | null>>();

  of(recordType: RecordType, recordId: string): Promise<string | null> {
    const pending = this.reading.get(recordId);
    if (pending) return pending;
    const read = this.look(recordType, recordId).finally(() => this.reading.delete(recordId));
    this.reading.set(recordId, read);
    return read;
  }

  private async look(recordType: RecordType, recordId: string): Promise<string | null> {
    const seen = (await this.snapshots.get(recordId))?.caseIdDisplay;
    if (seen) return seen;
    const reference = await this.references.referenceOfRecord(recordId);
    const link = reference ? await this.references.get(reference) : null;
    if (link?.caseIdDisplay) return link.caseIdDisplay;
    let display: string | null;
    try {
      display = displayIdOf(await this.primero.getRecord(recordType, recordId, DISPLAY_FIELDS[recordType]), recordType);
    } catch (err) {
      // An alert that something happened matters more than its wording: a failed read does not hold it back.
      this.logger.info({ recordId, status: err instanceof DeliveryError ? err.status : null }, 'display id not read; the alert names the record id');
      return null;
    }
    if (display && link) await this.references.keepDisplayId(link.reference, display);
    return display;
  }
}
