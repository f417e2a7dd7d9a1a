import type { ProviderMessage } from '../../intake/provider-messages';
import { readFormBody, requireFields } from '../body';
import { accepted, andThen, type Parsed } from '../parsed';
import type { ChannelRequest } from '../vector';

/** Twilio `From` is `+E164`, or `whatsapp:+E164` for WhatsApp through Twilio. */
function urnFromTwilio(from: string): string {
  if (from.startsWith('whatsapp:')) return `whatsapp:${from.slice('whatsapp:'.length).replace(/^\+/, '')}`;
  return `tel:${from}`;
}

const KNOWN_STATUSES = new Set(['queued', 'sending', 'sent', 'delivered', 'undelivered', 'failed', 'read', 'accepted', 'scheduled', 'canceled', 'partially_delivered']);

/**
 * The status a Twilio status callback reports, or null for an incoming message. Twilio's messaging webhooks
 * (twilio.com/docs/usage/webhooks/messaging-webhooks) send an incoming message with `SmsStatus=received` and no
 * `MessageStatus`, and an outbound message's status callback with `MessageStatus` (and `SmsStatus`) set to its status;
 * a status-callback URL pointed at the SMS route would otherwise make an empty case from our own number. Only
 * a known outbound status (in `MessageStatus`, else `SmsStatus`) makes it a callback: `received`, `receiving` (an
 * inbound message in flight) and any value Twilio may add later are read as a message, in either field, so nothing
 * that came in is dropped; the worst a new callback status does is one empty case.
 */
export function twilioStatusCallback(params: URLSearchParams): string | null {
  const status = params.get('MessageStatus') ?? params.get('SmsStatus');
  return status !== null && KNOWN_STATUSES.has(status) ? status : null;
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
