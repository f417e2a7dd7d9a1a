import { Router } from 'express';
import type { InboundMessage } from '../domain/inbound-message';
import { rapidProToMessage, rapidProWebhookSchema } from '../domain/rapidpro-webhook';
import type { Logger } from '../logger';
import type { IntakeService } from '../intake/intake-service';
import type { GatewayMetrics } from './metrics';
import { presentedToken, secretMatcher } from './auth';
import { HttpError } from './errors';
import { parseJsonBody, rawBody, validationDetails } from './json-body';
import { storeOr503 } from './unavailable';

export interface RapidProRouteDeps {
  webhookToken: string;
  intents: ReadonlyArray<InboundMessage['intent']>;
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
      const parsed = rapidProWebhookSchema.safeParse(parseJsonBody(req.body));
      if (!parsed.success) {
        throw new HttpError(422, 'invalid_body', 'The body is not a RapidPro webhook body this route understands.', validationDetails(parsed.error));
      }
      const simulation = req.get('x-mailroom-mode') === 'simulation';
      const message = rapidProToMessage(intent, parsed.data, new Date(), simulation);
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
