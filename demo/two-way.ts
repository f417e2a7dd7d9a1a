import { randomUUID } from 'node:crypto';
import type { PrimeroSandbox } from './sandbox/primero';
import type { RapidProSandbox } from './sandbox/rapidpro';

/** The flow the demo's RapidPro sandbox knows as the imported flows/reply.flow.json (a background flow). */
export const REPLY_FLOW = 'b7c2d3e4-6f70-4b8c-9d0e-1f2a3b4c5d6e';

export interface TwoWayContext {
  api: (method: string, route: string, body: unknown, headers?: Record<string, string>) => Promise<{ status: number; body: Record<string, unknown> }>;
  until: <T>(what: string, check: () => T | undefined | null | false | Promise<T | undefined | null | false>, ms?: number) => Promise<T>;
  say: (line: string) => void;
  primero: PrimeroSandbox;
  rapidpro: RapidProSandbox;
  pushes: () => Array<{ device: string; title: string; body: string; url: string }>;
  webhookToken: string;
  child: { contact: string; urn: string; reference: string; caseId: string };
}

export interface TwoWayReport {
  caseworkerText: string;
  replyStart: { urns: string[]; params: Record<string, string> };
  outcomeSubject: string;
  childText: string;
  followUp: { status: number; body: Record<string, unknown> };
  followUpSubject: string;
  push: { title: string; body: string };
  status: Record<string, unknown>;
}

/**
 * The conversation both ways: a caseworker's note reaches the child through RapidPro (the child said it was safe to
 * message this phone), the outcome comes back as a note, the child's answer joins the case and alerts the caseworker,
 * and the child asks how their case moves.
 */
export async function twoWaySteps(ctx: TwoWayContext, first: number): Promise<TwoWayReport> {
  const { child, primero, rapidpro, say, until } = ctx;
  const caseworkerText = 'sample message from the caseworker: when is a safe time to call you?';
  await primero.addNote(child.caseId, 'cp_worker', 'Message to reporter', caseworkerText);
  const start = await until('the reply flow start', () => rapidpro.starts.find((s) => s.flow === REPLY_FLOW && s.params.reference === child.reference));
  say(`${first}. cp_worker wrote a note titled "Message to reporter" on the case. The child had answered YES to "Is it safe for us to send messages to this phone?", so the gateway started the reply flow in RapidPro (a background flow: it never interrupts a conversation) for ${start.urns.join(', ')} with the note's words as a parameter.`);
  const outcome = await until('the outcome note on the case', () => primero.notesOf(child.caseId).find((n) => String(n.note_subject).startsWith('Message to reporter: ')));
  say(`${first + 1}. The case now carries the note "${String(outcome.note_subject)}" — no number, no words.`);

  const childText = 'sample reply from the child: after school at four is safe';
  const auth = { Authorization: `Token ${ctx.webhookToken}` };
  const body = { contact: { uuid: child.contact, urn: child.urn, language: 'eng' }, flow: { uuid: randomUUID(), name: 'Message to the team' }, run: { uuid: randomUUID() }, input: childText };
  const followUp = await ctx.api('POST', '/webhooks/rapidpro/message', body, auth);
  const note = await until('the follow-up note on the case', () => primero.notesOf(child.caseId).find((n) => String(n.note_subject).startsWith('Message from reporter')));
  const push = await until('the new message push', () => ctx.pushes().find((p) => p.device === 'caseworker-phone' && p.url.endsWith(child.caseId) && /message/i.test(p.title)));
  say(`${first + 2}. The child wrote back through RapidPro: the gateway answered ${followUp.status} ${JSON.stringify(followUp.body)}, added the words to the same case as the note "${String(note.note_subject)}" (no second case), and cp_worker's phone shows: "${push.title}: ${push.body}".`);

  const status = await ctx.api('POST', '/webhooks/rapidpro/status', { contact: { uuid: child.contact, urn: child.urn }, flow: { uuid: randomUUID() } }, auth);
  say(`${first + 3}. The child sent STATUS: the status flow asked the gateway, which answered ${JSON.stringify(status.body)} — their own report only.`);
  return {
    caseworkerText,
    replyStart: { urns: start.urns, params: start.params },
    outcomeSubject: String(outcome.note_subject),
    childText,
    followUp,
    followUpSubject: String(note.note_subject),
    push: { title: push.title, body: push.body },
    status: status.body,
  };
}
