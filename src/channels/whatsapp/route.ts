import { Router, type Request, type RequestHandler, type Response } from 'express';
import type { ProviderMessageAcceptor } from '../../intake/provider-messages';
import type { Logger } from '../../logger';
import { QueueUnavailableError } from '../../queues/deadline';
import type { WhatsAppReplyProducer } from '../../queues/whatsapp-replies';
import type { WhatsAppUnreadableProducer } from '../../queues/whatsapp-unreadable';
import { secretsEqual } from '../../http/auth';
import { HttpError } from '../../http/errors';
import { LargeBodyBudget, readRawBody } from '../../http/json-body';
import { storeOr503 } from '../../http/unavailable';
import { valueOrRefuse } from '../refuse';
import { parseWhatsAppRequest, type WhatsAppInbound, type WhatsAppUnreadable } from './parse';
import { whatsappSignature } from './signature';
import { acceptWhatsAppMessage } from './store-message';
import { openWhatsAppWindow } from './open-window';
import type { WhatsAppWindowStore } from '../../store/whatsapp-windows';

export interface WhatsAppRouteDeps {
  verifyToken: string | undefined;
  appSecret: string | undefined;
  providerMessages: ProviderMessageAcceptor;
  /** null when WHATSAPP_ACCESS_TOKEN is unset: messages are taken, acknowledgements are not sent. */
  replies: WhatsAppReplyProducer | null;
  /** Where a message we cannot read is kept, as a dead letter, instead of refusing the batch it came in. */
  unreadable: WhatsAppUnreadableProducer;
  /** Where each sender's 24-hour customer-service window is kept (null: the worker side sends templates only). */
  windows: WhatsAppWindowStore | null;
  logger: Logger;
}

/**
 * Meta's own ceiling: "Webhooks payloads can be up to 3MB" (developers.facebook.com/docs/whatsapp/cloud-api/webhooks).
 * A batch over the other routes' 256 KiB would be refused 413 on every retry and its messages lost; the signature is
 * over these exact bytes, so all of them are read before it is checked.
 */
export const WHATSAPP_BODY_LIMIT = 3 * 1024 * 1024;

/** What bodies past 256 KiB may hold at once on this route: four full-size batches; a fifth waits for Meta's retry. */
export const WHATSAPP_LARGE_BODY_BUDGET = 4 * WHATSAPP_BODY_LIMIT;

const SIGNATURE_FORM = /^sha256=[0-9a-f]{64}$/i;

/** A request without a signature of the right form is refused before its body is read: nothing unsigned is buffered. */
const signaturePresent: RequestHandler = (req, _res, next) => {
  if (SIGNATURE_FORM.test(req.get('x-hub-signature-256') ?? '')) return next();
  req.resume();
  next(new HttpError(403, 'invalid_signature', 'X-Hub-Signature-256 is missing or does not match the body.'));
};

/** Beyond this many unreadable messages in one body, the body is kept once, whole, instead of one job each. */
export const MAX_UNREADABLE_PER_BODY = 20;

/**
 * withinDeadline reports every failure as Redis being away; one that came from the content (a RangeError, a
 * TypeError, a zod refusal) would fail the same way on every re-delivery, so that item is set aside instead.
 */
function contentFault(err: unknown): string | null {
  const cause = err instanceof QueueUnavailableError ? err.cause : err;
  if (cause instanceof RangeError || cause instanceof TypeError || cause instanceof SyntaxError) return cause.name;
  if ((cause as { name?: unknown } | undefined)?.name === 'ZodError') return 'ZodError';
  return null;
}

/** Meta's verification handshake: the challenge back when the verify token matches. */
function verificationHandler(verifyToken: string) {
  return (req: Request, res: Response) => {
    const mode = req.query['hub.mode'];
    const token = req.query['hub.verify_token'];
    const challenge = req.query['hub.challenge'];
    if (mode !== 'subscribe' || typeof token !== 'string' || typeof challenge !== 'string' || !secretsEqual(token, verifyToken)) {
      throw new HttpError(403, 'verification_failed', 'hub.mode must be subscribe and hub.verify_token must match WHATSAPP_VERIFY_TOKEN.');
    }
    res.type('text/plain').send(challenge);
  };
}

type StoreResult = { fault: string } | { fault: null; duplicate: boolean };

/** One read message stored, or the name of the content fault that keeps it from being stored. */
async function storeOne(deps: WhatsAppRouteDeps, m: WhatsAppInbound): Promise<StoreResult> {
  const result = await storeOr503(deps.logger, 'whatsapp', async (): Promise<StoreResult> => {
    try {
      const outcome = await acceptWhatsAppMessage(deps.providerMessages, deps.replies, m);
      return { fault: null, duplicate: outcome.duplicate };
    } catch (err) {
      const name = contentFault(err);
      if (!name) throw err;
      return { fault: name };
    }
  });
  if (result.fault === null) await openWhatsAppWindow(deps.windows, m, deps.logger);
  return result;
}

/** `GET /webhooks/whatsapp` (Meta's verification handshake) and `POST /webhooks/whatsapp` (signed events). */
export function whatsappRouter(deps: WhatsAppRouteDeps): Router {
  const router = Router();
  if (deps.verifyToken) router.get('/webhooks/whatsapp', verificationHandler(deps.verifyToken));
  if (!deps.appSecret) return router;
  const appSecret = deps.appSecret;
  router.post('/webhooks/whatsapp', signaturePresent, readRawBody(WHATSAPP_BODY_LIMIT, new LargeBodyBudget(WHATSAPP_LARGE_BODY_BUDGET)), async (req, res) => {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const given = req.get('x-hub-signature-256');
    if (!given || !secretsEqual(given, whatsappSignature(appSecret, raw))) {
      throw new HttpError(403, 'invalid_signature', 'X-Hub-Signature-256 is missing or does not match the body.');
    }
    // Signed, so Meta sent it: whatever we cannot read is kept aside, never refused. A non-2xx makes Meta
    // retry the whole batch and, in time, disable the webhook (courier answers 200 for the same reason:
    // nyaruka/courier handlers/meta/handlers.go). Statuses and other fields carry no message.
    const batch = valueOrRefuse(parseWhatsAppRequest({ body: raw, headers: {}, query: {}, pathParams: {}, now: new Date() }));
    const setAside: WhatsAppUnreadable[] = [...batch.unreadable];
    let stored = 0;
    let duplicates = 0;
    for (const [i, m] of batch.messages.entries()) {
      const result = await storeOne(deps, m);
      if (result.fault !== null) setAside.push({ wamid: m.wamid, reason: `WhatsApp message could not be stored (${result.fault})`, message: batch.sources[i] });
      else {
        stored++;
        if (result.duplicate) duplicates++;
      }
    }
    // One body cannot fill the dead letters: past the bound it is kept once, whole (its stored messages are
    // deduplicated by the ledger should an operator replay it).
    const keep =
      setAside.length > MAX_UNREADABLE_PER_BODY
        ? [{ wamid: null, reason: `${setAside.length} unreadable WhatsApp messages in one body: kept whole`, message: batch.body }]
        : setAside;
    for (const item of keep) {
      await storeOr503(deps.logger, 'whatsapp', () => deps.unreadable.keep(item));
      deps.logger.warn({ channel: 'whatsapp', reason: item.reason }, 'unreadable WhatsApp message kept as a dead letter');
    }
    // Counted as a duplicate, like the other routes' re-deliveries, when everything it stored had been stored before.
    res.locals.duplicate = stored > 0 && duplicates === stored;
    res.status(200).json({ status: 'ok', stored, kept_unreadable: keep.length });
  });
  return router;
}
