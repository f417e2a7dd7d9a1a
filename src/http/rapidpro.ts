import { Router } from 'express';
import type { InboundMessage } from '../domain/inbound-message';
import { rapidProToMessage, rapidProWebhookSchema } from '../domain/rapidpro-webhook';
import type { Logger } from '../logger';
import { QueueUnavailableError, type IntakeProducer } from '../queues/intake';
import { presentedToken, secretsEqual } from './auth';
import { HttpError } from './errors';
import { parseJsonBody, rawBody, validationDetails } from './json-body';

export interface RapidProRouteDeps {
  webhookToken: string;
  intents: ReadonlyArray<InboundMessage['intent']>;
  intake: IntakeProducer;
  logger: Logger;
}

/**
 * `POST /webhooks/rapidpro/<intent>`: RapidPro "Call Webhook" nodes and resthooks. The answer is the flow's
 * only signal (RapidPro never retries), so 202 is sent only once the job is in Redis.
 */
export function rapidProRouter(deps: RapidProRouteDeps): Router {
  const router = Router();
  for (const intent of deps.intents) {
    router.post(`/webhooks/rapidpro/${intent}`, (req, _res, next) => {
      const token = presentedToken(req);
      if (token === null || !secretsEqual(token, deps.webhookToken)) {
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
      try {
        const accepted = await deps.intake.submit(message);
        deps.logger.info({ reference: accepted.reference, channel: 'rapidpro', intent, duplicate: accepted.duplicate }, 'message accepted');
        res.status(202).json({ status: 'accepted', reference: accepted.reference, duplicate: accepted.duplicate });
      } catch (err) {
        if (!(err instanceof QueueUnavailableError)) throw err;
        deps.logger.error({ err, channel: 'rapidpro', intent }, 'message not stored: Redis unavailable');
        throw new HttpError(503, 'unavailable', 'The gateway cannot store messages right now; nothing was stored. Try again shortly.', [], {
          'Retry-After': '5',
        });
      }
    });
  }
  return router;
}
