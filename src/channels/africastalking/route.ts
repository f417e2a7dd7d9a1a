import { Router, type RequestHandler } from 'express';
import type { ProviderMessage, ProviderMessageAcceptor, ProviderMessageOutcome } from '../../intake/provider-messages';
import type { Logger } from '../../logger';
import { secretMatcher } from '../../http/auth';
import { HttpError } from '../../http/errors';
import { readRawBody } from '../../http/json-body';
import type { AfricasTalkingReplyProducer } from '../../queues/africastalking-replies';
import { storeOr503 } from '../../http/unavailable';
import { valueOrRefuse } from '../refuse';
import { parseAfricasTalkingRequest } from './parse';

export interface AfricasTalkingRouteDeps {
  token: string;
  providerMessages: ProviderMessageAcceptor;
  /** Null while AFRICASTALKING_USERNAME / _API_KEY are unset: the message is stored and nobody is answered. */
  replies: AfricasTalkingReplyProducer | null;
  logger: Logger;
}

/**
 * Queues the acknowledgement of a stored message. The message is safe whatever happens here, and Africa's Talking
 * must not send it again, so a failure costs the reply only: it is logged by reference, and the answer stays 200.
 */
async function queueReply(deps: AfricasTalkingRouteDeps, message: ProviderMessage, outcome: ProviderMessageOutcome): Promise<void> {
  if (!outcome.reply || !deps.replies) return;
  try {
    await deps.replies.enqueue(message.providerId, { urn: message.urn, text: outcome.reply, reference: outcome.reference, sensitive: outcome.sensitive, answers: outcome.answers });
  } catch (err) {
    deps.logger.warn({ reference: outcome.reference, channel: 'africastalking', error: err instanceof Error ? err.name : 'unknown' }, 'message stored; its reply could not be queued');
  }
}

/**
 * `POST /webhooks/africastalking/sms?token=…`: Africa's Talking does not sign requests, so the callback URL
 * carries a secret. Its inbound callback takes no reply in the response: the reply goes out as an SMS of its own.
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
    await queueReply(deps, message, outcome);
    res.status(200).json({ status: 'accepted', reference: outcome.reference, duplicate: outcome.duplicate });
  });
  return router;
}
