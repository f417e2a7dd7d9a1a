import type { BodySafe } from '../domain/safe-to-contact-look';
import type { ReferenceStore } from '../store/references';

/**
 * Follows what a Primero webhook body said in the record's "safe to contact" field (the mapping of the intent the
 * record was created for), by the same rule as a read: a no lowers the link, a yes only answers an unknown, nothing
 * raises a no (the store's script decides). The body is authenticated and is Primero's own view of the record, the
 * only one left once the record is out of the API user's scope.
 */
export async function followBodySafeToContact(
  references: ReferenceStore,
  safeFieldOf: (intent: string) => string | undefined,
  recordId: string,
  said: Record<string, boolean> | undefined,
): Promise<BodySafe> {
  const reference = await references.referenceOfRecord(recordId);
  const link = reference ? await references.get(reference) : null;
  const field = link ? safeFieldOf(link.intent) : undefined;
  if (!link || !field) return 'not_asked';
  const safe = said && Object.hasOwn(said, field) ? said[field] : undefined;
  if (typeof safe !== 'boolean') return 'lacked';
  await references.followRecordSafeToContact(link.reference, safe, field);
  return 'carried';
}
