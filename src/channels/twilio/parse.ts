import type { ProviderMessage } from '../../intake/provider-messages';
import { readFormBody, requireFields } from '../body';
import { accepted, andThen, type Parsed } from '../parsed';
import type { ChannelRequest } from '../vector';

/** Twilio `From` is `+E164`, or `whatsapp:+E164` for WhatsApp through Twilio. */
function urnFromTwilio(from: string): string {
  if (from.startsWith('whatsapp:')) return `whatsapp:${from.slice('whatsapp:'.length).replace(/^\+/, '')}`;
  return `tel:${from}`;
}

/** The fields of a signed Twilio SMS callback; its `NumMedia` links (at most 10) are the attachments. */
export function parseTwilioSms(params: URLSearchParams, now: Date): Parsed<{ messages: [ProviderMessage] }> {
  return andThen(requireFields(params, ['MessageSid', 'From', 'To']), () => {
    const numMedia = Math.min(Number(params.get('NumMedia') ?? 0) || 0, 10);
    const attachments = Array.from({ length: numMedia }, (_, i) => params.get(`MediaUrl${i}`)).filter((u): u is string => !!u);
    const message: ProviderMessage = {
      channel: 'twilio',
      providerId: params.get('MessageSid') ?? '',
      urn: urnFromTwilio(params.get('From') ?? ''),
      text: params.get('Body') ?? '',
      attachments,
      receivedAt: now,
    };
    return accepted({ messages: [message] });
  });
}

/** The whole request as the route reads it, the signature check aside (the route checks it between the two). */
export const parseTwilioRequest = (req: ChannelRequest) => andThen(readFormBody(req.body), (params) => parseTwilioSms(params, req.now));
