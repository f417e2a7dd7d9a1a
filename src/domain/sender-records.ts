import type { CommunityStatus } from './notification-plan';
import type { RecordSnapshot } from './record-events';
import { normaliseReference } from './reference';

/** One record the gateway created for a sender, as the two-way paths need it (no personal data). */
export interface SenderRecord {
  reference: string;
  recordType: 'case' | 'incident';
  recordId: string;
  caseIdDisplay: string | null;
  intent: string;
  sensitive: boolean;
  /** The safe-to-contact answer its link keeps (false: the person said someone else may read their messages); null: unknown. */
  safeToContact?: boolean | null;
  /** The gateway's last look at the record could not confirm that answer (see StoredSnapshot). */
  safeUnconfirmed?: boolean;
  /** When the gateway created it (ISO). */
  createdAt: string;
  /** The last look the gateway had of it; null when it has none (then it counts as received and open). */
  snapshot: Pick<RecordSnapshot, 'status' | 'workflow' | 'ownedBy' | 'assignedUserNames'> | null;
}

/**
 * The status a community member is told: closed, in progress (the case left workflow "new", or someone other than
 * the gateway owns it or is assigned to it: a referral adds its recipient to the assignees and changes nothing
 * else), else received. The same three words the RapidPro notify flow says.
 */
export function communityStatusOf(record: Pick<SenderRecord, 'snapshot'>, gatewayUser: string): CommunityStatus {
  const s = record.snapshot;
  if (!s) return 'received';
  if (s.status === 'closed') return 'closed';
  const leftNew = s.workflow !== null && s.workflow !== 'new';
  const owned = s.ownedBy !== null && s.ownedBy !== gatewayUser;
  const assigned = s.assignedUserNames.some((u) => u !== gatewayUser);
  return leftNew || owned || assigned ? 'in_progress' : 'received';
}

function withoutTrailingPunctuation(word: string): string {
  let end = word.length;
  while (end > 0 && '.,;:!?)'.includes(word[end - 1]!)) end--;
  return word.slice(0, end);
}

/**
 * A reference the sender typed after REF or REFERENCE, upper-cased; null when none. People write it as they can:
 * `REF K7QM-Z4XP`, `ref k7qm z4xp`, `reference: K7QMZ4XP`, `reference number is K7QMZ4XP`. One or two words
 * after the filler are read through normaliseReference; failing that, a single 6-16 character word is returned
 * as it was (STATUS answers "none" to it rather than reading the words as a report).
 */
export function referenceInText(text: string | null): string | null {
  if (!text) return null;
  // What follows is read up to the end of its line, never anchored to the end of the text: an anchor that fails
  // after a long run of spaces makes the filler backtrack, quadratic in the length (seconds for a 64 KiB SMS body).
  const m = /(?:^|\s)ref(?:erence)?\b[\s:#.]*(?:(?:number|num|no|nr|is)\b[\s:#.]*)*([^\n]*)/i.exec(text);
  if (!m) return null;
  // A reference is two words at most: what follows the filler is cut short before any word is looked at, so no
  // pattern below ever runs over a long text (trailing punctuation stripped by a pattern is quadratic in a long run).
  const words = m[1]!.slice(0, 64).split(/\s+/).map(withoutTrailingPunctuation).filter((w) => w !== '');
  const [first, second] = words;
  if (!first) return null;
  const typed = normaliseReference(first) ?? (second ? normaliseReference(first + second) : null);
  if (typed) return typed;
  return /^[A-Za-z0-9]{6,16}$/.test(first) ? first.toUpperCase() : null;
}

/**
 * Whether the gateway may write to the person about this record: not when they (or a caseworker) said it is not safe
 * to contact them, nor while the last look could not confirm the answer (a caseworker the gateway cannot read may
 * have just said so).
 */
export function mayWriteAbout(record: Pick<SenderRecord, 'safeToContact' | 'safeUnconfirmed'>): boolean {
  return record.safeToContact !== false && record.safeUnconfirmed !== true;
}

/**
 * The records a STATUS answer may name. Never a sensitive one (PSEA), nor one the gateway may not write to the
 * person about (mayWriteAbout): whoever holds the phone could learn that a report exists.
 */
export function tellable(record: Pick<SenderRecord, 'sensitive' | 'safeToContact' | 'safeUnconfirmed'>): boolean {
  return !record.sensitive && mayWriteAbout(record);
}

/**
 * How a STATUS answer reads a sender's references: newest first, a page of 20 at a time, until it has what it may name
 * (five, or the most recent one) or has read 100 — a phone a volunteer reports many children from would otherwise read
 * hundreds of links inside the answer's deadline, and a page of records it may not name must not read as "no report".
 */
export const STATUS_LOOKUP_LIMIT = 20;
export const STATUS_LOOKUP_CAP = 100;

/** Newest first (by creation), the order every two-way path reads a sender's records in. */
export function newestFirst(records: SenderRecord[]): SenderRecord[] {
  return [...records].sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt));
}
