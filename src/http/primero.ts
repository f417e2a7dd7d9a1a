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
// Caseworkers' user names reach push-subscription keys, trace entries and log lines. Primero's have no space (or are
// an email address with an identity provider: USER_NAME_REGEX, app/models/user.rb); the cap only keeps a forged body
// from writing megabytes there.
const USER_NAME = /^[^ ]{1,254}$/;
const isUserName = (v: unknown) => typeof v === 'string' && USER_NAME.test(v);

/**
 * A body's owner or assignees that are not user names are left out, as a field the body lacks: the worker reads it
 * from Primero. Never a 422 for them: Primero does not retry, and every other change in the body would be lost.
 */
function withUserNamesOnly(data: Record<string, unknown>): Record<string, unknown> {
  const kept = { ...data };
  if ('owned_by' in kept && !isUserName(kept.owned_by)) delete kept.owned_by;
  const assigned = kept.assigned_user_names;
  if ('assigned_user_names' in kept && !(Array.isArray(assigned) && assigned.length <= 500 && assigned.every(isUserName))) delete kept.assigned_user_names;
  return kept;
}

const bodySchema = z.object({
  data: z.looseObject({
    // Primero's record ids are UUIDs; anything else would reach a push alert's link, a Redis key and Primero's URLs.
    record_id: z.string().regex(UUID_PATTERN, 'must be a Primero record id (a UUID)'),
    record_type: z.string().max(64).optional(),
    // Primero sends Time#iso8601; a value that is no time could never be ordered against the last look.
    last_updated_at: z.string().max(64).refine((v) => ISO_TIME.test(v) && !Number.isNaN(Date.parse(v)), 'must be an ISO 8601 time'),
  }),
});

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

/**
 * The record types the gateway follows. Primero's Webhookable also fires for tracing requests (and any type a module
 * lists in use_webhooks_for): those are answered, and stored nowhere, rather than read as cases.
 */
const FOLLOWED_TYPES = new Set(['case', 'incident']);

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
    const type = parsed.data.data.record_type;
    if (type !== undefined && !FOLLOWED_TYPES.has(type)) {
      res.status(202).json({ status: 'ignored', reason: 'record_type_not_followed' });
      return;
    }
    const look = lookOf(withUserNamesOnly(parsed.data.data), deps.safeFields());
    if (!look) throw new HttpError(422, 'invalid_body', 'record_id and last_updated_at are required.');
    const fresh = await storeOr503(deps.logger, 'primero', () => deps.events.submit(look));
    res.locals.duplicate = !fresh;
    res.status(202).json({ status: 'accepted', duplicate: !fresh });
  });
  return router;
}
