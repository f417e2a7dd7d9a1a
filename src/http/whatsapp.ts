import { Router } from 'express';
import { readWhatsAppWebhook, whatsappSignature, type WhatsAppUnreadable } from '../domain/whatsapp-webhook';
import type { DirectIntake } from '../intake/direct-messages';
import { storeWhatsAppMessage } from '../intake/whatsapp-intake';
import type { Logger } from '../logger';
import { QueueUnavailableError } from '../queues/deadline';
import type { WhatsAppReplyProducer } from '../queues/whatsapp-replies';
import type { WhatsAppUnreadableProducer } from '../queues/whatsapp-unreadable';
import { secretsEqual } from './auth';
import { HttpError } from './errors';
import { rawBody } from './json-body';
import { storeOr503 } from './unavailable';

export interface WhatsAppRouteDeps {
  verifyToken: string | undefined;
  appSecret: string | undefined;
  direct: DirectIntake;
  /** null when WHATSAPP_ACCESS_TOKEN is unset: messages are taken, acknowledgements are not sent. */
  replies: WhatsAppReplyProducer | null;
  /** Where a message we cannot read is kept, as a dead letter, instead of refusing the batch it came in. */
  unreadable: WhatsAppUnreadableProducer;
  logger: Logger;
}

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

function jsonOrText(raw: Buffer): unknown {
  const text = raw.toString('utf8');
  try {
    return JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch {
    return text;
  }
}

/** `GET /webhooks/whatsapp` (Meta's verification handshake) and `POST /webhooks/whatsapp` (signed events). */
export function whatsappRouter(deps: WhatsAppRouteDeps): Router {
  const router = Router();

  if (deps.verifyToken) {
    const verifyToken = deps.verifyToken;
    router.get('/webhooks/whatsapp', (req, res) => {
      const mode = req.query['hub.mode'];
      const token = req.query['hub.verify_token'];
      const challenge = req.query['hub.challenge'];
      if (mode !== 'subscribe' || typeof token !== 'string' || typeof challenge !== 'string' || !secretsEqual(token, verifyToken)) {
        throw new HttpError(403, 'verification_failed', 'hub.mode must be subscribe and hub.verify_token must match WHATSAPP_VERIFY_TOKEN.');
      }
      res.type('text/plain').send(challenge);
    });
  }

  if (deps.appSecret) {
    const appSecret = deps.appSecret;
    router.post('/webhooks/whatsapp', rawBody, async (req, res) => {
      const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const given = req.get('x-hub-signature-256');
      if (!given || !secretsEqual(given, whatsappSignature(appSecret, raw))) {
        throw new HttpError(403, 'invalid_signature', 'X-Hub-Signature-256 is missing or does not match the body.');
      }
      // Signed, so Meta sent it: whatever we cannot read is kept aside, never refused. A non-2xx makes Meta
      // retry the whole batch and, in time, disable the webhook (courier answers 200 for the same reason:
      // nyaruka/courier handlers/meta/handlers.go). Statuses and other fields carry no message.
      const body = jsonOrText(raw);
      const batch = readWhatsAppWebhook(body, new Date());
      const setAside: WhatsAppUnreadable[] = [...batch.unreadable];
      let stored = 0;
      for (const [i, m] of batch.messages.entries()) {
        const fault = await storeOr503(deps.logger, 'whatsapp', async () => {
          try {
            await storeWhatsAppMessage(deps.direct, deps.replies, m);
            return null;
          } catch (err) {
            const name = contentFault(err);
            if (!name) throw err;
            return name;
          }
        });
        if (fault) setAside.push({ wamid: m.wamid, reason: `WhatsApp message could not be stored (${fault})`, message: batch.sources[i] });
        else stored++;
      }
      // One body cannot fill the dead letters: past the bound it is kept once, whole (its stored messages are
      // deduplicated by the ledger should an operator replay it).
      const keep =
        setAside.length > MAX_UNREADABLE_PER_BODY
          ? [{ wamid: null, reason: `${setAside.length} unreadable WhatsApp messages in one body: kept whole`, message: body }]
          : setAside;
      for (const item of keep) {
        await storeOr503(deps.logger, 'whatsapp', () => deps.unreadable.keep(item));
        deps.logger.warn({ channel: 'whatsapp', reason: item.reason }, 'unreadable WhatsApp message kept as a dead letter');
      }
      res.status(200).json({ status: 'ok', stored, kept_unreadable: keep.length });
    });
  }
  return router;
}
