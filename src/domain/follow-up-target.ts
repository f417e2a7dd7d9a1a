import { communityStatusOf, mayWriteAbout, newestFirst, type SenderRecord } from './sender-records';

export interface FollowUpRules {
  /** FOLLOW_UP_WINDOW_DAYS: only records the gateway created this recently are joined (0 = never). */
  windowDays: number;
  /** PRIMERO_USER: its ownership does not make a record "in progress". */
  gatewayUser: string;
}

/**
 * What a message without a keyword becomes: joined to `target`, or (target null) a report of its own, `sensitive`
 * when it must be protected like one (it concerns a sensitive record the sender did not name, or named closed).
 */
export interface FollowUpDecision {
  target: SenderRecord | null;
  sensitive: boolean;
  /** Joined to a record the gateway may not write to the person about (mayWriteAbout): no acknowledgement goes back. */
  silent?: boolean;
}

/**
 * Only the sender's own records count, only open ones created within the window. A reference that is not among
 * their records is treated as absent, so the answer never says whether it exists. A sensitive (PSEA) record is
 * joined only when named: whoever holds the phone may not be the survivor, and a follow-up acknowledgement
 * carries its target's reference. Unnamed, the words still belong near it, so they become a sensitive report of
 * their own. A record the gateway may not write to the person about (mayWriteAbout) is joined without an acknowledgement. A named own record that is closed or too old is not swapped for another open one (that would put
 * the words on a case they were not about): the message is a report of its own, as sensitive as the one named.
 */
export function followUpDecision(records: SenderRecord[], askedFor: string | null, now: Date, rules: FollowUpRules): FollowUpDecision {
  if (rules.windowDays <= 0) return { target: null, sensitive: false };
  const since = now.getTime() - rules.windowDays * 86_400_000;
  const open = newestFirst(records).filter((r) => Date.parse(r.createdAt) >= since && communityStatusOf(r, rules.gatewayUser) !== 'closed');
  const named = askedFor === null ? undefined : records.find((r) => r.reference === askedFor);
  if (named) return open.includes(named) ? { target: named, sensitive: named.sensitive, silent: !mayWriteAbout(named) } : { target: null, sensitive: named.sensitive };
  // Unnamed, the newest open record decides: the words are most likely about it, and are never passed over to an
  // older case (whose caseworkers would get words meant for another). A sensitive one is not joined (the
  // acknowledgement would name it to whoever holds the phone): a sensitive report of its own. One the gateway may not
  // write to the person about is joined, silently: no acknowledgement is sent to that phone.
  const newest = open[0];
  if (!newest) return { target: null, sensitive: false };
  if (newest.sensitive) return { target: null, sensitive: true };
  return { target: newest, sensitive: false, silent: !mayWriteAbout(newest) };
}

/** The record a message without a keyword joins, or null (see followUpDecision). */
export function followUpTarget(records: SenderRecord[], askedFor: string | null, now: Date, rules: FollowUpRules): SenderRecord | null {
  return followUpDecision(records, askedFor, now, rules).target;
}
