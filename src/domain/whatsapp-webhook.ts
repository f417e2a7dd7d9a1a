import { createHmac } from 'node:crypto';
import { z } from 'zod';

/** `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>`, over the bytes as received. */
export function whatsappSignature(appSecret: string, rawBody: Buffer): string {
  return `sha256=${createHmac('sha256', appSecret).update(rawBody).digest('hex')}`;
}

const mediaSchema = z.object({ id: z.string() }).loose();
const messageSchema = z
  .object({
    from: z.string(),
    id: z.string().min(1),
    timestamp: z.string().optional(),
    type: z.string(),
    text: z.object({ body: z.string() }).optional(),
    button: z.object({ text: z.string().optional(), payload: z.string().optional() }).optional(),
    interactive: z
      .object({
        button_reply: z.object({ id: z.string().optional(), title: z.string().optional() }).optional(),
        list_reply: z.object({ id: z.string().optional(), title: z.string().optional() }).optional(),
      })
      .optional(),
    image: mediaSchema.optional(),
    audio: mediaSchema.optional(),
    video: mediaSchema.optional(),
    document: mediaSchema.optional(),
    sticker: mediaSchema.optional(),
    location: z.object({ latitude: z.number(), longitude: z.number() }).optional(),
    group_id: z.string().optional(),
  })
  .loose();

export const whatsappWebhookSchema = z.object({
  object: z.literal('whatsapp_business_account'),
  entry: z.array(
    z.object({
      id: z.string().optional(),
      changes: z.array(
        z.object({
          field: z.string(),
          value: z
            .object({
              metadata: z.object({ phone_number_id: z.string().optional(), display_phone_number: z.string().optional() }).optional(),
              messages: z.array(messageSchema).optional(),
              statuses: z.array(z.unknown()).optional(),
            })
            .loose(),
        }),
      ),
    }),
  ),
});

export type WhatsAppWebhook = z.infer<typeof whatsappWebhookSchema>;

export interface WhatsAppInbound {
  wamid: string;
  waId: string;
  text: string;
  attachments: string[];
  receivedAt: Date;
}

/** Text, button and interactive replies become text; media become `whatsapp-media:<id>` links, never downloads. */
export function whatsappMessages(body: WhatsAppWebhook, now: Date): WhatsAppInbound[] {
  const out: WhatsAppInbound[] = [];
  for (const entry of body.entry) {
    for (const change of entry.changes) {
      if (change.field !== 'messages') continue;
      for (const m of change.value.messages ?? []) {
        if (m.group_id) continue;
        const text =
          m.text?.body ??
          m.button?.text ??
          m.interactive?.button_reply?.title ??
          m.interactive?.list_reply?.title ??
          (m.location ? `Location shared: ${m.location.latitude},${m.location.longitude}` : '');
        const media = [m.image, m.audio, m.video, m.document, m.sticker].filter((x): x is { id: string } => !!x);
        const caption = (m as { image?: { caption?: unknown } }).image?.caption;
        const seconds = Number(m.timestamp);
        out.push({
          wamid: m.id,
          waId: m.from,
          text: text || (typeof caption === 'string' ? caption : ''),
          attachments: media.map((x) => `whatsapp-media:${x.id}`),
          receivedAt: Number.isFinite(seconds) && seconds > 0 ? new Date(seconds * 1000) : now,
        });
      }
    }
  }
  return out;
}
