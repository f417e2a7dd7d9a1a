import type { RecordOrigin } from '../domain/notification-plan';
import { addressableUrn } from '../domain/urn';
import type { ReferenceStore } from '../store/references';

/** Where the record came from, if the gateway created it: the person to tell, whether it is sensitive, and whether they may be told. */
export async function originOf(references: ReferenceStore, recordId: string): Promise<RecordOrigin | null> {
  const reference = await references.referenceOfRecord(recordId);
  const link = reference ? await references.get(reference) : null;
  // A link saved before redacted URNs were dropped at intake may hold one: a flow start to it would reach nobody, or anybody.
  return link ? { reference: link.reference, urn: addressableUrn(link.urn), sensitive: link.sensitive, safeToContact: link.safeToContact ?? null } : null;
}
