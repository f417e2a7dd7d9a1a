import type { WhatsAppInbound } from '../domain/whatsapp-webhook';
import type { WhatsAppReplyProducer } from '../queues/whatsapp-replies';
import type { DirectIntake } from './direct-messages';

/** Stores one read WhatsApp message and queues its acknowledgement: the route and a replayed dead letter alike. */
export async function storeWhatsAppMessage(direct: DirectIntake, replies: WhatsAppReplyProducer | null, m: WhatsAppInbound): Promise<void> {
  const outcome = await direct.receive({
    channel: 'whatsapp',
    providerId: m.wamid,
    urn: `whatsapp:${m.waId}`,
    text: m.text,
    attachments: m.attachments,
    receivedAt: m.receivedAt,
    otherUrns: m.otherIds.map((id) => `whatsapp:${id}`),
  });
  if (outcome.reply && replies) await replies.enqueue(m.wamid, { waId: m.waId, text: outcome.reply, reference: outcome.reference });
}
