import { Router } from 'express';
import { twilioSignature } from '../domain/twilio-signature';
import type { DirectIntake } from '../intake/direct-messages';
import type { Logger } from '../logger';
import { secretsEqual } from './auth';
import { HttpError } from './errors';
import { parseFormBody, requireFields } from './form-body';
import { readRawBody } from './json-body';
import { storeOr503 } from './unavailable';

export interface TwilioRouteDeps {
  authToken: string;
  publicUrl: string;
  direct: DirectIntake;
  logger: Logger;
}

function xmlEscape(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

export function twiml(reply: string | null): string {
  const body = reply === null ? '<Response/>' : `<Response><Message>${xmlEscape(reply)}</Message></Response>`;
  return `<?xml version="1.0" encoding="UTF-8"?>${body}`;
}

/** Twilio `From` is `+E164`, or `whatsapp:+E164` for WhatsApp through Twilio. */
function urnFromTwilio(from: string): string {
  if (from.startsWith('whatsapp:')) return `whatsapp:${from.slice('whatsapp:'.length).replace(/^\+/, '')}`;
  return `tel:${from}`;
}

/** `POST /webhooks/twilio/sms`: signed by Twilio; answers TwiML carrying the acknowledgement. */
export function twilioRouter(deps: TwilioRouteDeps): Router {
  const router = Router();
  router.post('/webhooks/twilio/sms', readRawBody(64 * 1024), async (req, res) => {
    const params = parseFormBody(req.body);
    const given = req.get('x-twilio-signature');
    const expected = twilioSignature(deps.authToken, deps.publicUrl + req.originalUrl, params);
    if (!given || !secretsEqual(given, expected)) throw new HttpError(403, 'invalid_signature', 'X-Twilio-Signature is missing or does not match this request.');
    requireFields(params, ['MessageSid', 'From', 'To']);
    const numMedia = Math.min(Number(params.get('NumMedia') ?? 0) || 0, 10);
    const attachments = Array.from({ length: numMedia }, (_, i) => params.get(`MediaUrl${i}`)).filter((u): u is string => !!u);
    const outcome = await storeOr503(deps.logger, 'twilio', () =>
      deps.direct.receive({
        channel: 'twilio',
        providerId: params.get('MessageSid')!,
        urn: urnFromTwilio(params.get('From')!),
        text: params.get('Body') ?? '',
        attachments,
        receivedAt: new Date(),
      }),
    );
    res.locals.duplicate = outcome.duplicate;
    res.type('text/xml').send(twiml(outcome.reply));
  });
  return router;
}
