import type { ProviderMessageAcceptor, ProviderMessageOutcome } from '../../intake/provider-messages';
import type { WhatsAppReplyProducer } from '../../queues/whatsapp-replies';
import type { WhatsAppInbound } from './parse';

/** Stores one read WhatsApp message and queues its acknowledgement; the outcome says whether it was a re-delivery. */
export async function acceptWhatsAppMessage(providerMessages: ProviderMessageAcceptor, replies: WhatsAppReplyProducer | null, m: WhatsAppInbound): Promise<ProviderMessageOutcome> {
  const outcome = await providerMessages.accept({
    channel: 'whatsapp',
    providerId: m.wamid,
    urn: `whatsapp:${m.waId}`,
    text: m.text,
    attachments: m.attachments,
    receivedAt: m.receivedAt,
    otherUrns: m.otherIds.map((id) => `whatsapp:${id}`),
  });
  if (outcome.reply && replies) await replies.enqueue(m.wamid, { waId: m.waId, text: outcome.reply, reference: outcome.reference, sensitive: outcome.sensitive, answers: outcome.answers });
  return outcome;
}

