import { communityStatusOf, newestFirst, tellable, type SenderRecord } from './sender-records';

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
}

/**
 * Only the sender's own records count, only open ones created within the window. A reference that is not among
 * their records is treated as absent, so the answer never says whether it exists. A sensitive (PSEA) record is
 * joined only when named: whoever holds the phone may not be the survivor, and a follow-up acknowledgement
 * carries its target's reference (so is a record whose reporter said messages to this phone are not safe). Unnamed,
 * the words still belong near it, so they become a report of their own (sensitive when it is). A named own record that is closed or too old is not swapped for another open one (that would put
 * the words on a case they were not about): the message is a report of its own, as sensitive as the one named.
 */
export function followUpDecision(records: SenderRecord[], askedFor: string | null, now: Date, rules: FollowUpRules): FollowUpDecision {
  if (rules.windowDays <= 0) return { target: null, sensitive: false };
  const since = now.getTime() - rules.windowDays * 86_400_000;
  const open = newestFirst(records).filter((r) => Date.parse(r.createdAt) >= since && communityStatusOf(r, rules.gatewayUser) !== 'closed');
  const named = askedFor === null ? undefined : records.find((r) => r.reference === askedFor);
  if (named) return open.includes(named) ? { target: named, sensitive: named.sensitive } : { target: null, sensitive: named.sensitive };
  // Unnamed, the newest open record decides: the words are most likely about it. One that may not be named to whoever
  // holds the phone (sensitive, or its reporter said messages there are not safe) is neither joined nor passed over
  // for an older one (its words would reach that case's caseworkers): they become a report of their own.
  const newest = open[0];
  if (!newest) return { target: null, sensitive: false };
  return tellable(newest) ? { target: newest, sensitive: false } : { target: null, sensitive: newest.sensitive };
}

/** The record a message without a keyword joins, or null (see followUpDecision). */
export function followUpTarget(records: SenderRecord[], askedFor: string | null, now: Date, rules: FollowUpRules): SenderRecord | null {
  return followUpDecision(records, askedFor, now, rules).target;
}
