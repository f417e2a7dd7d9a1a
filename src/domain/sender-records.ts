import type { CommunityStatus } from './notification-plan';
import type { RecordSnapshot } from './record-events';

/** One record the gateway created for a sender, as the two-way paths need it (no personal data). */
export interface SenderRecord {
  reference: string;
  recordType: 'case' | 'incident';
  recordId: string;
  caseIdDisplay: string | null;
  intent: string;
  sensitive: boolean;
  /** When the gateway created it (ISO). */
  createdAt: string;
  /** The last look the gateway had of it; null when it has none (then it counts as received and open). */
  snapshot: Pick<RecordSnapshot, 'status' | 'workflow' | 'ownedBy' | 'assignedUserNames'> | null;
}

/**
 * The status a community member is told: closed, in progress (the case left workflow "new" or has an owner who
 * is not the gateway), else received. The same three words the RapidPro notify flow says.
 */
export function communityStatusOf(record: Pick<SenderRecord, 'snapshot'>, gatewayUser: string): CommunityStatus {
  const s = record.snapshot;
  if (!s) return 'received';
  if (s.status === 'closed') return 'closed';
  const leftNew = s.workflow !== null && s.workflow !== 'new';
  const owned = s.ownedBy !== null && s.ownedBy !== gatewayUser;
  return leftNew || owned ? 'in_progress' : 'received';
}

/** A reference the sender typed (`REF K7QMZ4XP`, or the bare reference as the first word), upper-cased; null when none. */
export function referenceInText(text: string | null): string | null {
  if (!text) return null;
  const m = /(?:^|\s)(?:ref(?:erence)?\s*[:#]?\s*)([A-Za-z0-9]{6,16})\b/i.exec(text);
  return m ? m[1]!.toUpperCase() : null;
}

/** Newest first (by creation), the order every two-way path reads a sender's records in. */
export function newestFirst(records: SenderRecord[]): SenderRecord[] {
  return [...records].sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt));
}
