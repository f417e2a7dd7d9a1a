/**
 * What the gateway's own read of a record said of its "safe to contact" field: `not_asked` when there is nothing to
 * confirm (a record the gateway did not create, a mapping without the question); `read` when Primero answered (a
 * field without a value is an unanswered question, the link's unknown, as before); `refused` on a 403 (the record
 * left the API user's scope: referred or transferred away), which says nothing of the answer; `unreadable` when the
 * read came back without the field although Primero has shown that field before (the link's `safeSeen`), which is Primero
 * leaving out a field the API user's role may not read.
 */
export type SafeRead = 'not_asked' | 'read' | 'refused' | 'unreadable';

/** What a webhook body said of it: the mapping's field `carried` (its value used), or `lacked`. */
export type BodySafe = 'not_asked' | 'carried' | 'lacked';

/**
 * Whether this look confirmed the person's current answer. A caseworker may untick the field on a record the gateway
 * can no longer read, with nothing on the link to show it: a status message then would reach a phone someone has
 * just said is not safe, so a look that neither read the field nor was told it by the body sends none.
 */
export function safeToContactConfirmed(body: BodySafe, read: SafeRead | null): boolean {
  if (body !== 'lacked') return true;
  return read === 'read' || read === 'not_asked';
}
