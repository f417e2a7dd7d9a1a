import { Router } from 'express';
import type { ProviderMessageAcceptor } from '../../intake/provider-messages';
import type { Logger } from '../../logger';
import { secretsEqual } from '../../http/auth';
import { HttpError } from '../../http/errors';
import { readRawBody } from '../../http/json-body';
import { storeOr503 } from '../../http/unavailable';
import { readFormBody } from '../body';
import { valueOrRefuse } from '../refuse';
import { parseTwilioSms, twilioStatusCallback } from './parse';
import { twilioSignature } from './signature';
import { twiml } from './twiml';

export interface TwilioRouteDeps {
  authToken: string;
  publicUrl: string;
  providerMessages: ProviderMessageAcceptor;
  logger: Logger;
}

/** `POST /webhooks/twilio/sms`: signed by Twilio; answers TwiML carrying the acknowledgement. */
export function twilioRouter(deps: TwilioRouteDeps): Router {
  const router = Router();
  router.post('/webhooks/twilio/sms', readRawBody(64 * 1024), async (req, res) => {
    const params = valueOrRefuse(readFormBody(req.body));
    const given = req.get('x-twilio-signature');
    const expected = twilioSignature(deps.authToken, deps.publicUrl + req.originalUrl, params);
    if (!given || !secretsEqual(given, expected)) throw new HttpError(403, 'invalid_signature', 'X-Twilio-Signature is missing or does not match this request.');
    const status = twilioStatusCallback(params);
    if (status !== null) {
      // 200 with empty TwiML: Twilio has nothing to retry, and nothing is stored.
      deps.logger.info({ channel: 'twilio', status }, 'Twilio status callback on the SMS route ignored: point status callbacks elsewhere');
      res.type('text/xml').send(twiml(null));
      return;
    }
    const [message] = valueOrRefuse(parseTwilioSms(params, new Date())).messages;
    const outcome = await storeOr503(deps.logger, 'twilio', () => deps.providerMessages.accept(message));
    res.locals.duplicate = outcome.duplicate;
    res.type('text/xml').send(twiml(outcome.reply));
  });
  return router;
}
