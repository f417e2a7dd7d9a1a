import { z } from 'zod';
import { own } from './own';
import { looksLikeDisplayId } from './record-events';

export const PUSH_EVENTS = ['assigned', 'new_referral', 'new_sensitive_report', 'new_message'] as const;
export type PushEvent = (typeof PUSH_EVENTS)[number];

const PAGE_KEYS = ['page_title', 'intro', 'enable', 'disable', 'enabled', 'disabled', 'failed', 'unsupported', 'open'] as const;
const strings = z.object(
  Object.fromEntries([...PAGE_KEYS, ...PUSH_EVENTS.flatMap((e) => [`${e}_title`, `${e}_body`])].map((k) => [k, z.string().min(1)])) as Record<string, z.ZodString>,
);

export const pushTextsSchema = z.object({ default_language: z.string(), languages: z.record(z.string(), strings) });
export type PushTexts = z.infer<typeof pushTextsSchema>;

export interface PushNotice {
  event: PushEvent;
  recordType: 'case' | 'incident';
  recordId: string;
  caseIdDisplay: string | null;
  urgent: boolean;
}

/** RFC 8291 with one 4096-byte record: 86 header + 1 delimiter + 16 tag leave this much for the JSON. */
export const MAX_PUSH_PLAINTEXT = 3993;

/**
 * What a caseworker's phone shows: that something happened, the case's display id and a link. Built only
 * from the notice (ids and an event name), so it cannot carry a name, a number, concerns or words.
 */
export function pushPayload(notice: PushNotice, language: string, texts: PushTexts, primeroUrl: string): string {
  const t = own(texts.languages, language) ?? texts.languages[texts.default_language]!;
  // Checked here too: a display id stored before the check existed is shown only if it looks like one.
  const display = looksLikeDisplayId(notice.caseIdDisplay) ? notice.caseIdDisplay : /^[0-9a-f]{8}/i.test(notice.recordId) ? notice.recordId.slice(0, 8) : '?';
  const url = `${primeroUrl}/v2/${notice.recordType === 'incident' ? 'incidents' : 'cases'}/${encodeURIComponent(notice.recordId)}`;
  const payload = JSON.stringify({
    title: t[`${notice.event}_title`],
    body: t[`${notice.event}_body`]!.replace('{case}', display),
    url,
    tag: notice.recordId,
    action: t.open,
  });
  if (Buffer.byteLength(payload) > MAX_PUSH_PLAINTEXT) throw new RangeError('push payload over the web push size limit');
  return payload;
}

/** A Topic header (≤ 32 base64url characters): a newer alert about the same record replaces an undelivered older one. */
export function pushTopic(recordId: string): string {
  return Buffer.from(recordId.replace(/-/g, ''), 'hex').toString('base64url').slice(0, 32) || 'record';
}
