import { Router } from 'express';
import type { INTENTS } from '../../domain/inbound-message';
import type { IntakeService } from '../../intake/intake-service';
import type { Logger } from '../../logger';
import type { GatewayMetrics } from '../../http/metrics';
import { presentedToken, secretMatcher } from '../../http/auth';
import { HttpError } from '../../http/errors';
import { rawBody } from '../../http/json-body';
import { storeOr503 } from '../../http/unavailable';
import { valueOrRefuse } from '../refuse';
import { parseRapidProRequest } from './parse';

export interface RapidProRouteDeps {
  webhookToken: string;
  intents: ReadonlyArray<(typeof INTENTS)[number]>;
  intake: IntakeService;
  logger: Logger;
  metrics: Pick<GatewayMetrics, 'countSimulated'>;
}

/**
 * `POST /webhooks/rapidpro/<intent>`: RapidPro "Call Webhook" nodes and resthooks. The answer is the flow's
 * only signal (RapidPro never retries), so 202 is sent only once the job is in Redis.
 */
export function rapidProRouter(deps: RapidProRouteDeps): Router {
  const router = Router();
  const tokenMatches = secretMatcher(deps.webhookToken);
  for (const intent of deps.intents) {
    router.post(`/webhooks/rapidpro/${intent}`, (req, _res, next) => {
      const token = presentedToken(req);
      if (token === null || !tokenMatches(token)) {
        throw new HttpError(401, 'unauthorized', 'Send the gateway token as "Authorization: Token <token>" or ?token=.', [], {
          'WWW-Authenticate': 'Token',
        });
      }
      next();
    }, rawBody, async (req, res) => {
      const request = { body: req.body, headers: { 'x-mailroom-mode': req.get('x-mailroom-mode') }, query: {}, pathParams: { intent }, now: new Date() };
      const [message] = valueOrRefuse(parseRapidProRequest(request)).messages;
      const accepted = await storeOr503(deps.logger, 'rapidpro', () => deps.intake.accept(message));
      if (accepted.simulated) {
        // Warned, not informed: the header is the caller's word, and a token holder sending it drops real messages.
        deps.metrics.countSimulated('rapidpro', intent);
        deps.logger.warn({ channel: 'rapidpro', intent, simulated: true }, 'simulator call (X-Mailroom-Mode: simulation) answered; nothing stored');
        res.status(202).json({ status: 'accepted', reference: accepted.reference, duplicate: false, simulated: true });
        return;
      }
      deps.logger.info({ reference: accepted.reference, channel: 'rapidpro', intent, duplicate: accepted.duplicate, merged: accepted.merged }, 'message accepted');
      res.locals.duplicate = accepted.duplicate;
      res.status(202).json({ status: 'accepted', reference: accepted.reference, duplicate: accepted.duplicate });
    });
  }
  return router;
}
