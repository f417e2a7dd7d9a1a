import { Router } from 'express';
import { z } from 'zod';
import { lookOf } from '../domain/record-events';
import { UUID_PATTERN } from '../domain/uuid';
import type { Logger } from '../logger';
import type { PrimeroEventProducer } from '../queues/primero-events';
import { secretMatcher } from './auth';
import { HttpError } from './errors';
import { parseJsonBody, rawBody, validationDetails } from './json-body';
import { storeOr503 } from './unavailable';

export interface PrimeroWebhookDeps {
  apiKey: string;
  events: PrimeroEventProducer;
  logger: Logger;
  /** The mappings' "safe to contact" fields, read at each request (a mapping may change while the process runs). */
  safeFields: () => readonly string[];
}

// Primero posts the fields its webhook role may read (and that have a value); only the ids, the fields change
// detection needs (with the names of those it lacked) and a yes or no per "safe to contact" field are kept.
const bodySchema = z.object({
  data: z.looseObject({
    // Primero's record ids are UUIDs; anything else would reach a push alert's link, a Redis key and Primero's URLs.
    record_id: z.string().regex(UUID_PATTERN, 'must be a Primero record id (a UUID)'),
    record_type: z.string().optional(),
    last_updated_at: z.string().min(1),
  }),
});

/**
 * `POST /webhooks/primero`: case.create / case.update from Primero (`x-api-key`). Primero never retries, so
 * the change is stored before answering; the work happens in the primero-events worker.
 */
export function primeroWebhookRouter(deps: PrimeroWebhookDeps): Router {
  const router = Router();
  const keyMatches = secretMatcher(deps.apiKey);
  router.post('/webhooks/primero', (req, _res, next) => {
    const key = req.get('x-api-key');
    if (!key || !keyMatches(key)) throw new HttpError(401, 'unauthorized', 'Send the shared key in the x-api-key header.');
    next();
  }, rawBody, async (req, res) => {
    const parsed = bodySchema.safeParse(parseJsonBody(req.body));
    if (!parsed.success) throw new HttpError(422, 'invalid_body', 'The body is not a Primero webhook body ({"data":{"record_id","last_updated_at",…}}).', validationDetails(parsed.error));
    const look = lookOf(parsed.data.data, deps.safeFields());
    if (!look) throw new HttpError(422, 'invalid_body', 'record_id and last_updated_at are required.');
    const fresh = await storeOr503(deps.logger, 'primero', () => deps.events.submit(look));
    res.locals.duplicate = !fresh;
    res.status(202).json({ status: 'accepted', duplicate: !fresh });
  });
  return router;
}
