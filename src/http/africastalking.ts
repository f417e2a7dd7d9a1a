import { Router, type RequestHandler } from 'express';
import type { DirectIntake } from '../intake/direct-messages';
import type { Logger } from '../logger';
import { secretMatcher } from './auth';
import { HttpError } from './errors';
import { parseFormBody, requireFields } from './form-body';
import { readRawBody } from './json-body';
import { storeOr503 } from './unavailable';

export interface AfricasTalkingRouteDeps {
  token: string;
  direct: DirectIntake;
  logger: Logger;
}

/** AT dates: `2006-01-02T15:04:05Z` or `2006-01-02 15:04:05`, UTC. */
function parseAtDate(value: string | null): Date {
  if (!value) return new Date();
  const d = new Date(value.includes('T') ? value : `${value.replace(' ', 'T')}Z`);
  return Number.isNaN(d.getTime()) ? new Date() : d;
}

/**
 * `POST /webhooks/africastalking/sms?token=…`: Africa's Talking does not sign requests, so the callback URL
 * carries a secret. Its inbound callback takes no reply in the response: the answer is an empty 200.
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
    const params = parseFormBody(req.body);
    requireFields(params, ['id', 'from', 'to']);
    const from = params.get('from')!;
    const outcome = await storeOr503(deps.logger, 'africastalking', () =>
      deps.direct.receive({
        channel: 'africastalking',
        providerId: params.get('id')!,
        urn: `tel:${from}`,
        text: params.get('text') ?? '',
        attachments: [],
        receivedAt: parseAtDate(params.get('date')),
      }),
    );
    res.locals.duplicate = outcome.duplicate;
    res.status(200).json({ status: 'accepted', reference: outcome.reference, duplicate: outcome.duplicate });
  });
  return router;
}
