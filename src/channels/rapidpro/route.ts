import { Router, type Request } from 'express';
import type { INTENTS, UnreferencedMessage } from '../../domain/inbound-message';
import type { AcceptedMessage, IntakeService } from '../../intake/intake-service';
import type { Logger } from '../../logger';
import type { GatewayMetrics } from '../../http/metrics';
import { rawBody } from '../../http/json-body';
import { storeOr503 } from '../../http/unavailable';
import { valueOrRefuse } from '../refuse';
import type { ChannelRequest } from '../vector';
import { parseRapidProMessage, parseRapidProRequest } from './parse';
import { rapidProTokenCheck } from './token-check';

export interface RapidProRouteDeps {
  webhookToken: string;
  intents: ReadonlyArray<(typeof INTENTS)[number]>;
  intake: IntakeService;
  logger: Logger;
  metrics: Pick<GatewayMetrics, 'countSimulated'>;
}

/** A 202 answer: its JSON body, and whether it answers a duplicate (the webhook metrics count it so). */
export interface IntentAnswer {
  body: Record<string, unknown>;
  duplicate: boolean;
}

const channelRequest = (body: unknown, mailroomMode: string | undefined, intent: string): ChannelRequest => ({
  body: body as Buffer,
  headers: { 'x-mailroom-mode': mailroomMode },
  query: {},
  pathParams: { intent },
  now: new Date(),
});

const fromExpress = (req: Request, intent: string) => channelRequest(req.body, req.get('x-mailroom-mode'), intent);

/** The answer once stored (or simulated); `extra` is what the route adds (the /message route's `follow_up`). */
function answer(deps: RapidProRouteDeps, intent: string, accepted: AcceptedMessage, extra: Record<string, unknown> = {}): IntentAnswer {
  if (accepted.simulated) {
    // Warned, not informed: the header is the caller's word, and a token holder sending it drops real messages.
    deps.metrics.countSimulated('rapidpro', intent);
    deps.logger.warn({ channel: 'rapidpro', intent, simulated: true }, 'simulator call (X-Mailroom-Mode: simulation) answered; nothing stored');
    return { body: { status: 'accepted', reference: accepted.reference, duplicate: false, ...extra, simulated: true }, duplicate: false };
  }
  deps.logger.info({ reference: accepted.reference, channel: 'rapidpro', intent, duplicate: accepted.duplicate, merged: accepted.merged, ...extra }, 'message accepted');
  return { body: { status: 'accepted', reference: accepted.reference, duplicate: accepted.duplicate, ...extra }, duplicate: accepted.duplicate };
}

/**
 * `POST /webhooks/rapidpro/<intent>` after its token check, from the body's bytes and the X-Mailroom-Mode header:
 * the 202 answer once stored, or the refusal thrown as an HttpError (a 4xx, or 503 when nothing could be stored).
 */
export async function acceptIntent(deps: RapidProRouteDeps, intent: string, body: unknown, mailroomMode: string | undefined): Promise<IntentAnswer> {
  const [message] = valueOrRefuse(parseRapidProRequest(channelRequest(body, mailroomMode, intent))).messages;
  return answer(deps, intent, await storeOr503(deps.logger, 'rapidpro', () => deps.intake.accept(message)));
}

/**
 * `POST /webhooks/rapidpro/<intent>`: RapidPro "Call Webhook" nodes and resthooks. The answer is the flow's
 * only signal (RapidPro never retries), so 202 is sent only once the job is in Redis. `POST
 * /webhooks/rapidpro/message` (with a referral mapping) passes on what a person wrote: it joins their open record
 * as a follow-up, else it is a referral; `follow_up` in the answer lets the flow branch on which.
 */
export function rapidProRouter(deps: RapidProRouteDeps): Router {
  const router = Router();
  const token = rapidProTokenCheck(deps.webhookToken);
  for (const intent of deps.intents) {
    router.post(`/webhooks/rapidpro/${intent}`, token, rawBody, async (req, res) => {
      const answered = await acceptIntent(deps, intent, req.body, req.get('x-mailroom-mode'));
      res.locals.duplicate = answered.duplicate;
      res.status(202).json(answered.body);
    });
  }
  if (deps.intents.includes('referral')) {
    router.post('/webhooks/rapidpro/message', token, rawBody, async (req, res) => {
      const [message]: [UnreferencedMessage] = valueOrRefuse(parseRapidProMessage(fromExpress(req, 'message'))).messages;
      const accepted = await storeOr503(deps.logger, 'rapidpro', () => deps.intake.acceptUnclassified(message));
      const answered = answer(deps, 'message', accepted, { follow_up: accepted.followUp === true });
      res.locals.duplicate = answered.duplicate;
      // `silent`: the record it joined may not be written about to this phone; the flow sends nothing (an SMS or
      // WhatsApp follow-up gets no acknowledgement then). Never logged: it hints at a "not safe".
      res.status(202).json(accepted.silent ? { ...answered.body, silent: true } : answered.body);
    });
  }
  return router;
}
