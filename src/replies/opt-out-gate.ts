import { z } from 'zod';
import type { ContactStore } from '../store/contacts';

/**
 * What a queued reply answers (a field of the reply jobs, src/queues/jobs.ts): a STOP (`optout`) or a START (`optin`),
 * or anything else (`other`: an acknowledgement, a STATUS answer). Absent from a reply an earlier build queued.
 */
export const replyAnswers = z.enum(['optout', 'optin', 'other']).optional();
export type ReplyAnswers = z.infer<typeof replyAnswers>;

/**
 * Whether the number's opt-out, as it is when the reply is sent, lets the reply go. A STOP's confirmation goes only
 * while the number is still opted out, a START's only while it is not, everything else only while it is not: a STOP
 * after a START both waiting in a paused queue leaves the number with the STOP's confirmation alone. A reply an
 * earlier build queued with no reference was a STOP's or START's confirmation or a STATUS answer, which that build
 * sent as `earlierNoReference` says.
 */
export async function optOutAllows(contacts: Pick<ContactStore, 'isOptedOut'>, urn: string, reply: { reference: string | null; answers?: ReplyAnswers }, earlierNoReference: 'sent' | 'checked'): Promise<boolean> {
  if (reply.answers === undefined && reply.reference === null && earlierNoReference === 'sent') return true;
  const optedOut = await contacts.isOptedOut(urn);
  return reply.answers === 'optout' ? optedOut : !optedOut;
}
