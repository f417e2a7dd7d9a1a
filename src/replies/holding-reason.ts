import type { CaseLink } from '../store/references';
import type { SnapshotStore } from '../store/snapshots';

export type HoldingReason = 'not_safe' | 'sensitive' | 'unverifiable';

/**
 * What was said about a record, since a message to its person was queued, that holds the message back: the person
 * (or a caseworker) said not safe to contact; the record is protected as sensitive, unless the message was chosen for
 * that; the record's last look could not confirm the safe-to-contact answer, where that counts for this message. The
 * last look is read only when the link says nothing. Null: nothing holds it.
 */
export async function holdingReason(
  link: CaseLink,
  snapshots: Pick<SnapshotStore, 'get'>,
  message: { chosenForSensitive: boolean; unconfirmedCounts: boolean },
): Promise<HoldingReason | null> {
  if (link.safeToContact === false) return 'not_safe';
  if (link.sensitive && !message.chosenForSensitive) return 'sensitive';
  if (message.unconfirmedCounts && (await snapshots.get(link.caseId))?.safeUnconfirmed) return 'unverifiable';
  return null;
}
