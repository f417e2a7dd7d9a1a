import { Router, type RequestHandler } from 'express';
import type { ProviderMessageAcceptor } from '../../intake/provider-messages';
import type { Logger } from '../../logger';
import { secretMatcher } from '../../http/auth';
import { HttpError } from '../../http/errors';
import { readRawBody } from '../../http/json-body';
import { storeOr503 } from '../../http/unavailable';
import { valueOrRefuse } from '../refuse';
import { parseAfricasTalkingRequest } from './parse';

export interface AfricasTalkingRouteDeps {
  token: string;
  providerMessages: ProviderMessageAcceptor;
  logger: Logger;
}

/**
 * `POST /webhooks/africastalking/sms?token=…`: Africa's Talking does not sign requests, so the callback URL
 * carries a secret. Its inbound callback takes no reply in the response.
 */
export function africasTalkingRouter(deps: AfricasTalkingRouteDeps): Router {
  const router = Router();
  const tokenMatches = secretMatcher(deps.token);
  // The token before the body: an unauthenticated caller gets no 64 KiB of our memory, nor a 413 to probe with.
  const authenticated: RequestHandler = (req, _res, next) => {
    const token = typeof req.query.token === 'string' ? req.query.token : '';
    if (!token || !tokenMatches(token)) throw new HttpError(401, 'unauthorized', 'Add ?token=<AFRICASTALKING_WEBHOOK_TOKEN> to the callback URL.');
    next();
  };
  router.post('/webhooks/africastalking/sms', authenticated, readRawBody(64 * 1024), async (req, res) => {
    const [message] = valueOrRefuse(parseAfricasTalkingRequest({ body: req.body, headers: {}, query: {}, pathParams: {}, now: new Date() })).messages;
    const outcome = await storeOr503(deps.logger, 'africastalking', () => deps.providerMessages.accept(message));
    res.locals.duplicate = outcome.duplicate;
    res.status(200).json({ status: 'accepted', reference: outcome.reference, duplicate: outcome.duplicate });
  });
  return router;
}
