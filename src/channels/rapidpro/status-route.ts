import { Router, type RequestHandler } from 'express';
import type { SenderRecords } from '../../cases/sender-records';
import { STATUS_LOOKUP_CAP, STATUS_LOOKUP_LIMIT, tellable, type SenderRecord } from '../../domain/sender-records';
import type { Logger } from '../../logger';
import { HttpError } from '../../http/errors';
import { rawBody } from '../../http/json-body';
import { QueueUnavailableError, withinDeadline } from '../../queues/deadline';
import { valueOrRefuse } from '../refuse';
import { parseRapidProStatusRequest, statusAnswer, type StatusAnswer } from './status-query';
import { rapidProTokenCheck } from './token-check';

export interface RapidProStatusRouteDeps {
  webhookToken: string;
  senderRecords: Pick<SenderRecords, 'of'>;
  /** PRIMERO_USER: a record it still owns is "received", not "in progress". */
  gatewayUser: string;
  /** How long the read may take before the flow is told 503 (ENQUEUE_TIMEOUT_MS, the HTTP path's Redis deadline). */
  timeoutMs: number;
  logger: Logger;
}

/** The sender's records, or the 503 a flow routes to Failure on: an empty list would tell them "no report". */
async function readRecords(deps: RapidProStatusRouteDeps, senders: string[], named: string | null) {
  try {
    const found = { named, until: (read: SenderRecord[]) => read.some(tellable), cap: STATUS_LOOKUP_CAP };
    return await withinDeadline(() => deps.senderRecords.of(senders, STATUS_LOOKUP_LIMIT, found), deps.timeoutMs);
  } catch (err) {
    if (!(err instanceof QueueUnavailableError)) throw err;
    deps.logger.error({ err: err.cause ?? err, channel: 'rapidpro', route: 'status' }, 'status not read: Redis unavailable');
    throw new HttpError(503, 'unavailable', 'The gateway cannot read report statuses right now. Try again shortly.', [], { 'Retry-After': '5' });
  }
}

/** The webhook metrics count a status look-up as one, never as a received message (src/http/metrics.ts). */
const markStatusQuery: RequestHandler = (_req, res, next) => {
  res.locals.statusQuery = true;
  next();
};

/**
 * `POST /webhooks/rapidpro/status`: a status flow's "Call Webhook" node asks what became of the contact's
 * report (the contact is its UUID; the body's URN is not read). 200 `{"reference","status"}` for their most recent non-sensitive record (or the one they named, when
 * it is theirs), else `{"reference": null, "status": "none"}`. It reads only; nothing is stored.
 */
export function rapidProStatusRouter(deps: RapidProStatusRouteDeps): Router {
  const router = Router();
  router.post('/webhooks/rapidpro/status', markStatusQuery, rapidProTokenCheck(deps.webhookToken), rawBody, async (req, res) => {
    const query = valueOrRefuse(parseRapidProStatusRequest(req.body));
    const records = await readRecords(deps, [query.contactUuid], query.askedFor);
    const answer: StatusAnswer = statusAnswer(records, query.askedFor, deps.gatewayUser);
    deps.logger.info({ channel: 'rapidpro', route: 'status', reference: answer.reference, status: answer.status, named: query.askedFor !== null }, 'status answered');
    res.status(200).json(answer);
  });
  return router;
}
