import type { KeywordTable } from './keywords';
import { replyText } from './keywords';
import { communityStatusOf, tellable, type SenderRecord } from './sender-records';

/** At most this many records are listed in one STATUS answer (an SMS stays one or two segments). */
export const STATUS_LIST_MAX = 5;

/**
 * What a sender is told about their own reports: fixed words per language and references, nothing else.
 * Sensitive (PSEA) records are never listed: their reporters are not messaged about them, and whoever holds the
 * phone may not be the survivor; nor are records whose reporter said it is not safe to contact them. A reference the sender asked for that is not among their own records gets the
 * same answer as no record at all, so a STATUS cannot tell whether someone else's reference exists.
 */
export function statusReplyText(table: KeywordTable, language: string, records: SenderRecord[], askedFor: string | null, gatewayUser: string): string {
  const own = records.filter((r) => tellable(r) && (askedFor === null || r.reference === askedFor)).slice(0, STATUS_LIST_MAX);
  if (own.length === 0) return replyText(table, language, 'status_none', null);
  const list = own.map((r) => replyText(table, language, `status_${communityStatusOf(r, gatewayUser)}`, r.reference)).join('; ');
  return replyText(table, language, 'status', null).replace('{list}', list);
}
