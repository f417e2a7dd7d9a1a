import { z } from 'zod';
import { accepted, type Parsed as ParseResult } from '../parsed';
import type { ChannelRequest } from '../vector';
import { SENDER } from './sender-id';

/*
 * Field names follow courier's reading of the Cloud API (nyaruka/courier v26.3.38:
 * handlers/meta/whatsapp/api.go, WAMessage and ExtractTextAndMedia; handlers/meta/handlers.go).
 */
const mediaSchema = z.object({ id: z.string().min(1), caption: z.string().optional() }).loose();
const messageSchema = z
  .object({
    id: z.string().min(1),
    from: z.string().optional(),
    // A user with a WhatsApp username may arrive with only their business-scoped user id, and no `from`.
    from_user_id: z.string().optional(),
    timestamp: z.union([z.string(), z.number()]).optional(),
    type: z.string(),
    group_id: z.string().optional(),
    text: z.object({ body: z.string() }).loose().optional(),
    button: z.object({ text: z.string().optional() }).loose().optional(),
    interactive: z
      .object({
        type: z.string().optional(),
        button_reply: z.object({ title: z.string().optional() }).loose().optional(),
        list_reply: z.object({ title: z.string().optional() }).loose().optional(),
        // WhatsApp Flows reply: `body` is what the person saw ("Sent"); response_json is the form, kept out.
        nfm_reply: z.object({ body: z.string().optional() }).loose().optional(),
      })
      .loose()
      .optional(),
    image: mediaSchema.optional(),
    audio: mediaSchema.optional(),
    voice: mediaSchema.optional(),
    video: mediaSchema.optional(),
    document: mediaSchema.optional(),
    sticker: mediaSchema.optional(),
    location: z.object({ latitude: z.number(), longitude: z.number() }).loose().optional(),
  })
  .loose();

/** Only the envelope decides whether this is a WhatsApp webhook; each message is read on its own. */
export const whatsappWebhookSchema = z.object({
  object: z.literal('whatsapp_business_account'),
  entry: z.array(
    z.object({
      id: z.string().optional(),
      changes: z.array(z.object({ field: z.string(), value: z.object({ messages: z.array(z.unknown()).optional() }).loose() }).loose()).default([]),
    }),
  ),
});

export type WhatsAppWebhook = z.infer<typeof whatsappWebhookSchema>;

export interface WhatsAppInbound {
  wamid: string;
  /** Phone digits, or a business-scoped user id (`US.1234`): both are `whatsapp:` URN paths. */
  waId: string;
  /**
   * The sender's other WhatsApp identity when Meta named both (`from` and `from_user_id`): courier keeps
   * `from` as the URN and adds `whatsapp:<from_user_id>` (nyaruka/courier handlers/meta/handlers.go). Once
   * the person adopts a username Meta stops sending `from`, so the two must be linked while both come.
   */
  otherIds: string[];
  text: string;
  /** `whatsapp-media:<type>:<media id>`: that media came and which, never its bytes or a download link. */
  attachments: string[];
  receivedAt: Date;
}

/** A message we could not read: kept whole (sealed) as a dead letter; `reason` holds no content. */
export interface WhatsAppUnreadable {
  wamid: string | null;
  reason: string;
  message: unknown;
}

export interface WhatsAppBatch {
  messages: WhatsAppInbound[];
  /** The message each of `messages` was read from, in the same order: kept as unreadable if storing it fails. */
  sources: unknown[];
  unreadable: WhatsAppUnreadable[];
}

const MEDIA_TYPES = ['image', 'audio', 'voice', 'video', 'document', 'sticker'] as const;
/** Message types Meta documents; any other value is the sender's bytes and stays out of reasons and logs. */
const KNOWN_TYPES = new Set(['text', 'image', 'audio', 'voice', 'video', 'document', 'sticker', 'location', 'contacts', 'interactive', 'button', 'order', 'system', 'reaction', 'unknown', 'unsupported', 'request_welcome', 'ephemeral']);
/** Reactions and Meta's own notices carry nothing a person wrote to us. */
const NOT_MESSAGES = new Set(['reaction', 'system', 'ephemeral', 'request_welcome']);

/** Messages whose content we do not take (other people's contact cards, a cart): the case says one was sent. */
const NOTED_TYPES = new Set(['contacts', 'order', 'unsupported', 'unknown']);

/** Earliest and latest times a message can carry: WhatsApp Cloud did not exist before 2009; none come from the future. */
const EARLIEST_MS = Date.UTC(2009, 0, 1);
const FUTURE_SLACK_MS = 86_400_000;

/**
 * Meta documents seconds but sometimes sends milliseconds (courier: handlers/meta/whatsapp/api.go, parseTimestamp).
 * A time outside what a real message can carry (or no Date at all) falls back to the receive time.
 */
export function whatsappTime(timestamp: string | number | undefined, now: Date): Date {
  const n = typeof timestamp === 'number' ? timestamp : /^\d{1,16}$/.test(timestamp ?? '') ? Number(timestamp) : NaN;
  if (!Number.isFinite(n) || n <= 0) return now;
  const ms = n >= 1_000_000_000_000 ? n : n * 1000;
  if (ms < EARLIEST_MS || ms > now.getTime() + FUTURE_SLACK_MS) return now;
  return new Date(ms);
}

type Parsed = { kind: 'message'; message: WhatsAppInbound } | { kind: 'skip' } | { kind: 'unreadable'; reason: string };

/** One message, on its own: a problem here never costs the rest of the batch. */
export function readWhatsAppMessage(raw: unknown, now: Date): Parsed {
  const parsed = messageSchema.safeParse(raw);
  if (!parsed.success) {
    const fields = [...new Set(parsed.error.issues.map((i) => i.path.join('.') || '(message)'))].join(', ');
    return { kind: 'unreadable', reason: `unreadable WhatsApp message (fields ${fields})` };
  }
  const m = parsed.data;
  if (m.group_id || NOT_MESSAGES.has(m.type)) return { kind: 'skip' };
  const sender = m.from || m.from_user_id || '';
  if (!SENDER.test(sender)) return { kind: 'unreadable', reason: sender ? 'WhatsApp sender id is not a phone number or user id' : 'WhatsApp message has neither from nor from_user_id' };
  // A malformed second id is dropped, not the message: the sender is already known by `from`.
  const otherIds = m.from && m.from_user_id && m.from_user_id !== m.from && SENDER.test(m.from_user_id) ? [m.from_user_id] : [];
  const base = { wamid: m.id, waId: sender, otherIds, receivedAt: whatsappTime(m.timestamp, now) };
  // What it held is not ours to keep (another person's number, a cart), but a child who sent it still gets a case.
  if (NOTED_TYPES.has(m.type)) return { kind: 'message', message: { ...base, text: '', attachments: [`whatsapp-message:${m.type}`] } };

  const media = MEDIA_TYPES.flatMap((type) => (m[type] ? [{ type, ...m[type] }] : []));
  const parts = [
    m.text?.body,
    m.button?.text,
    m.interactive?.button_reply?.title,
    m.interactive?.list_reply?.title,
    m.interactive?.nfm_reply?.body,
    ...media.map((x) => x.caption),
    m.location ? `Location shared: ${m.location.latitude},${m.location.longitude}` : undefined,
  ].filter((p): p is string => typeof p === 'string' && p.trim() !== '');
  if (parts.length === 0 && media.length === 0) return { kind: 'unreadable', reason: `WhatsApp message of type ${KNOWN_TYPES.has(m.type) ? m.type : '(unknown)'} has no text or media we read` };
  return {
    kind: 'message',
    message: { ...base, text: parts.join('\n'), attachments: media.map((x) => `whatsapp-media:${x.type}:${x.id}`) },
  };
}

/**
 * Every message of a signed webhook body (parsed JSON, or the text when it was not JSON), read one by one.
 * Delivery statuses and other fields carry no message. A body that is not a WhatsApp webhook at all is one
 * unreadable item, kept whole.
 */
export function readWhatsAppWebhook(body: unknown, now: Date): WhatsAppBatch {
  const parsed = whatsappWebhookSchema.safeParse(body);
  if (parsed.success) return whatsappMessages(parsed.data, now);
  const fields = [...new Set(parsed.error.issues.map((i) => String(i.path[0] ?? '(body)')))].join(', ');
  return { messages: [], sources: [], unreadable: [{ wamid: null, reason: `body is not a WhatsApp Cloud API webhook (fields ${fields})`, message: body }] };
}

/** Every message of a webhook, read one by one; delivery statuses and other fields carry no message. */
export function whatsappMessages(body: WhatsAppWebhook, now: Date): WhatsAppBatch {
  const batch: WhatsAppBatch = { messages: [], sources: [], unreadable: [] };
  for (const entry of body.entry) {
    for (const change of entry.changes) {
      if (change.field !== 'messages') continue;
      for (const raw of change.value.messages ?? []) {
        const read = readWhatsAppMessage(raw, now);
        if (read.kind === 'message') {
          batch.messages.push(read.message);
          batch.sources.push(raw);
        } else if (read.kind === 'unreadable') {
          const id = (raw as { id?: unknown } | null)?.id;
          batch.unreadable.push({ wamid: typeof id === 'string' && id ? id : null, reason: read.reason, message: raw });
        }
      }
    }
  }
  return batch;
}

function jsonOrText(raw: Buffer): unknown {
  const text = raw.toString('utf8');
  try {
    return JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch {
    return text;
  }
}

/**
 * A signed webhook request: the body as parsed JSON (or its text when it was not JSON) and every message in
 * it. Never a refusal: Meta signed it, so what cannot be read is set aside, not refused.
 */
export function parseWhatsAppRequest(req: ChannelRequest): ParseResult<WhatsAppBatch & { body: unknown }> {
  const body = jsonOrText(req.body);
  return accepted({ ...readWhatsAppWebhook(body, req.now), body });
}
