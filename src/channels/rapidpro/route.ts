import { Router, type Request, type RequestHandler, type Response } from 'express';
import type { INTENTS, UnreferencedMessage } from '../../domain/inbound-message';
import type { AcceptedMessage, IntakeService } from '../../intake/intake-service';
import type { Logger } from '../../logger';
import type { GatewayMetrics } from '../../http/metrics';
import { presentedToken, secretMatcher } from '../../http/auth';
import { HttpError } from '../../http/errors';
import { rawBody } from '../../http/json-body';
import { storeOr503 } from '../../http/unavailable';
import { valueOrRefuse } from '../refuse';
import type { ChannelRequest } from '../vector';
import { parseRapidProMessage, parseRapidProRequest } from './parse';

export interface RapidProRouteDeps {
  webhookToken: string;
  intents: ReadonlyArray<(typeof INTENTS)[number]>;
  intake: IntakeService;
  logger: Logger;
  metrics: Pick<GatewayMetrics, 'countSimulated'>;
}

function tokenCheck(webhookToken: string): RequestHandler {
  const tokenMatches = secretMatcher(webhookToken);
  return (req, _res, next) => {
    const token = presentedToken(req);
    if (token === null || !tokenMatches(token)) {
      throw new HttpError(401, 'unauthorized', 'Send the gateway token as "Authorization: Token <token>" or ?token=.', [], {
        'WWW-Authenticate': 'Token',
      });
    }
    next();
  };
}

const channelRequest = (req: Request, intent: string): ChannelRequest => ({
  body: req.body as Buffer,
  headers: { 'x-mailroom-mode': req.get('x-mailroom-mode') },
  query: {},
  pathParams: { intent },
  now: new Date(),
});

/** The answer once stored (or simulated); `extra` is what the route adds (the /message route's `follow_up`). */
function answer(deps: RapidProRouteDeps, res: Response, intent: string, accepted: AcceptedMessage, extra: Record<string, unknown> = {}): void {
  if (accepted.simulated) {
    // Warned, not informed: the header is the caller's word, and a token holder sending it drops real messages.
    deps.metrics.countSimulated('rapidpro', intent);
    deps.logger.warn({ channel: 'rapidpro', intent, simulated: true }, 'simulator call (X-Mailroom-Mode: simulation) answered; nothing stored');
    res.status(202).json({ status: 'accepted', reference: accepted.reference, duplicate: false, ...extra, simulated: true });
    return;
  }
  deps.logger.info({ reference: accepted.reference, channel: 'rapidpro', intent, duplicate: accepted.duplicate, merged: accepted.merged, ...extra }, 'message accepted');
  res.locals.duplicate = accepted.duplicate;
  res.status(202).json({ status: 'accepted', reference: accepted.reference, duplicate: accepted.duplicate, ...extra });
}

/**
 * `POST /webhooks/rapidpro/<intent>`: RapidPro "Call Webhook" nodes and resthooks. The answer is the flow's
 * only signal (RapidPro never retries), so 202 is sent only once the job is in Redis. `POST
 * /webhooks/rapidpro/message` (with a referral mapping) passes on what a person wrote: it joins their open record
 * as a follow-up, else it is a referral; `follow_up` in the answer lets the flow branch on which.
 */
export function rapidProRouter(deps: RapidProRouteDeps): Router {
  const router = Router();
  const token = tokenCheck(deps.webhookToken);
  for (const intent of deps.intents) {
    router.post(`/webhooks/rapidpro/${intent}`, token, rawBody, async (req, res) => {
      const [message] = valueOrRefuse(parseRapidProRequest(channelRequest(req, intent))).messages;
      answer(deps, res, intent, await storeOr503(deps.logger, 'rapidpro', () => deps.intake.accept(message)));
    });
  }
  if (deps.intents.includes('referral')) {
    router.post('/webhooks/rapidpro/message', token, rawBody, async (req, res) => {
      const [message]: [UnreferencedMessage] = valueOrRefuse(parseRapidProMessage(channelRequest(req, 'message'))).messages;
      const accepted = await storeOr503(deps.logger, 'rapidpro', () => deps.intake.acceptUnclassified(message));
      answer(deps, res, 'message', accepted, { follow_up: accepted.followUp === true });
    });
  }
  return router;
}
