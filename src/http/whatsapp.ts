import { Router } from 'express';
import { whatsappMessages, whatsappSignature, whatsappWebhookSchema } from '../domain/whatsapp-webhook';
import type { DirectIntake } from '../intake/direct-messages';
import type { Logger } from '../logger';
import type { WhatsAppReplyProducer } from '../queues/whatsapp-replies';
import { secretsEqual } from './auth';
import { HttpError } from './errors';
import { parseJsonBody, rawBody, validationDetails } from './json-body';
import { storeOr503 } from './unavailable';

export interface WhatsAppRouteDeps {
  verifyToken: string | undefined;
  appSecret: string | undefined;
  direct: DirectIntake;
  /** null when WHATSAPP_ACCESS_TOKEN is unset: messages are taken, acknowledgements are not sent. */
  replies: WhatsAppReplyProducer | null;
  logger: Logger;
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
      const parsed = whatsappWebhookSchema.safeParse(parseJsonBody(raw));
      if (!parsed.success) throw new HttpError(422, 'invalid_body', 'The body is not a WhatsApp Cloud API webhook.', validationDetails(parsed.error));
      // Delivery statuses and other fields carry no message: nothing to store, nothing to create.
      const messages = whatsappMessages(parsed.data, new Date());
      let stored = 0;
      for (const m of messages) {
        await storeOr503(deps.logger, 'whatsapp', async () => {
          const outcome = await deps.direct.receive({
            channel: 'whatsapp',
            providerId: m.wamid,
            urn: `whatsapp:${m.waId}`,
            text: m.text,
            attachments: m.attachments,
            receivedAt: m.receivedAt,
          });
          if (outcome.reply && deps.replies) await deps.replies.enqueue(m.wamid, { waId: m.waId, text: outcome.reply, reference: outcome.reference });
        });
        stored++;
      }
      res.status(200).json({ status: 'ok', stored });
    });
  }
  return router;
}
