import { communityStatusOf, newestFirst, type SenderRecord } from './sender-records';

export interface FollowUpRules {
  /** FOLLOW_UP_WINDOW_DAYS: only records the gateway created this recently are joined (0 = never). */
  windowDays: number;
  /** PRIMERO_USER: its ownership does not make a record "in progress". */
  gatewayUser: string;
}

/**
 * The record a message without a keyword continues, or null (then it is a referral of its own). Only the sender's
 * own records count, only open ones created within the window; a reference the sender typed picks one of those,
 * and a reference that is not among them is treated as absent, so the answer never says whether it exists.
 */
export function followUpTarget(records: SenderRecord[], askedFor: string | null, now: Date, rules: FollowUpRules): SenderRecord | null {
  if (rules.windowDays <= 0) return null;
  const since = now.getTime() - rules.windowDays * 86_400_000;
  const open = newestFirst(records).filter((r) => Date.parse(r.createdAt) >= since && communityStatusOf(r, rules.gatewayUser) !== 'closed');
  return open.find((r) => r.reference === askedFor) ?? open[0] ?? null;
}
