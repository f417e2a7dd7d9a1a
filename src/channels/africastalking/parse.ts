import type { ProviderMessage } from '../../intake/provider-messages';
import { readFormBody, requireFields } from '../body';
import { accepted, andThen, type Parsed } from '../parsed';
import type { ChannelRequest } from '../vector';

/** AT dates: `2006-01-02T15:04:05Z` or `2006-01-02 15:04:05`, UTC; missing or unreadable, the receive time. */
function parseAtDate(value: string | null, now: Date): Date {
  if (!value) return now;
  const d = new Date(value.includes('T') ? value : `${value.replace(' ', 'T')}Z`);
  return Number.isNaN(d.getTime()) ? now : d;
}

/** An Africa's Talking inbound SMS callback, after its token check. */
export function parseAfricasTalkingRequest(req: ChannelRequest): Parsed<{ messages: [ProviderMessage] }> {
  return andThen(readFormBody(req.body), (form) =>
    andThen(requireFields(form, ['id', 'from', 'to']), (params) => {
      const message: ProviderMessage = {
        channel: 'africastalking',
        providerId: params.get('id') ?? '',
        urn: `tel:${params.get('from') ?? ''}`,
        text: params.get('text') ?? '',
        attachments: [],
        receivedAt: parseAtDate(params.get('date'), req.now),
      };
      return accepted({ messages: [message] });
    }),
  );
}
