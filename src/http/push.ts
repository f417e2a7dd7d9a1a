import { readFileSync } from 'node:fs';
import path from 'node:path';
import express, { Router, type Request } from 'express';
import { z } from 'zod';
import type { PushTexts } from '../domain/push-texts';
import type { Logger } from '../logger';
import { PACKAGE_ROOT } from '../package-root';
import type { PushEndpointPolicy } from '../security/push-endpoint';
import type { AuditLog } from '../store/audit';
import type { PushSubscriptionStore } from '../store/push-subscriptions';
import { HttpError } from './errors';
import { validationDetails } from './json-body';
import { own } from '../domain/own';

export interface PushRouteDeps {
  vapidPublicKey: string;
  subscriptions: PushSubscriptionStore;
  texts: PushTexts;
  endpoints: PushEndpointPolicy;
  audit: AuditLog;
  logger: Logger;
}

const ASSETS = path.join(PACKAGE_ROOT, 'public', 'push');
const RTL = new Set(['ara']);
// Browser language tags to the ISO 639-3 codes the text tables use.
const BCP47: Record<string, string> = { en: 'eng', fr: 'fra', es: 'spa', pt: 'por', sw: 'swa', ar: 'ara' };

const b64url = (bytes: number, atLeast = false) =>
  z.string().refine((v) => /^[A-Za-z0-9_-]+=*$/.test(v) && (atLeast ? Buffer.from(v, 'base64url').length >= bytes : Buffer.from(v, 'base64url').length === bytes), {
    message: `must be base64url of ${atLeast ? 'at least ' : ''}${bytes} bytes`,
  });

const subscriptionSchema = z.object({
  enrollment_token: z.string().min(10).max(200),
  subscription: z.object({
    endpoint: z.url({ protocol: /^https?$/ }).max(2000),
    keys: z.object({ p256dh: b64url(65), auth: b64url(16, true) }),
  }),
  language: z.string().max(10).optional(),
});

const removalSchema = z.object({ endpoint: z.url().max(2000), keys: z.object({ auth: z.string().min(1).max(200) }) });

function languageOf(req: Request, texts: PushTexts): string {
  const asked = typeof req.query.lang === 'string' ? req.query.lang : null;
  if (asked && own(texts.languages, asked)) return asked;
  for (const tag of req.acceptsLanguages()) {
    const code = own(BCP47, tag.slice(0, 2).toLowerCase());
    if (code && own(texts.languages, code)) return code;
  }
  return texts.default_language;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(language: string, texts: PushTexts): string {
  const t = texts.languages[language]!;
  // JSON in a script element: "<" escaped so no string can close the element.
  const strings = JSON.stringify({ ...t, language }).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="${language}" dir="${RTL.has(language) ? 'rtl' : 'ltr'}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(t.page_title!)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem;line-height:1.5}button{display:block;width:100%;padding:.9rem;margin:.6rem 0;font-size:1.05rem;border-radius:.4rem;border:1px solid #333}#enable{background:#0b5;color:#fff;border:0}#status{font-weight:600;min-height:1.5rem}</style>
</head>
<body>
<h1>${escapeHtml(t.page_title!)}</h1>
<p>${escapeHtml(t.intro!)}</p>
<button id="enable" type="button">${escapeHtml(t.enable!)}</button>
<button id="disable" type="button">${escapeHtml(t.disable!)}</button>
<p id="status" role="status" aria-live="polite"></p>
<script type="application/json" id="strings">${strings}</script>
<script src="/push/app.js"></script>
</body>
</html>`;
}

const enrollmentInvalid = () => new HttpError(403, 'enrollment_invalid', 'This enrollment link was already used or has expired. Ask your administrator for a new one.');

/** The caseworker side of web push: the enrollment page, its service worker, and subscriptions. */
export function pushRouter(deps: PushRouteDeps): Router {
  const router = Router();
  const sw = readFileSync(path.join(ASSETS, 'sw.js'), 'utf8');
  const app = readFileSync(path.join(ASSETS, 'app.js'), 'utf8');
  const json = express.json({ limit: '8kb' });

  router.get('/push', (req, res) => {
    res.set('Content-Security-Policy', "default-src 'self'; script-src 'self'; style-src 'unsafe-inline'").type('html').send(page(languageOf(req, deps.texts), deps.texts));
  });
  router.get('/push/sw.js', (_req, res) => {
    // The page lives at /push, outside the worker's default scope (/push/): allow the wider one.
    res.set('Service-Worker-Allowed', '/push').type('application/javascript').send(sw);
  });
  router.get('/push/app.js', (_req, res) => {
    res.type('application/javascript').send(app);
  });
  router.get('/push/vapid-public-key', (_req, res) => {
    res.json({ key: deps.vapidPublicKey });
  });

  router.post('/push/subscriptions', json, async (req, res) => {
    const parsed = subscriptionSchema.safeParse(req.body);
    if (!parsed.success) throw new HttpError(422, 'invalid_subscription', 'Send {"enrollment_token", "subscription": {endpoint, keys: {p256dh, auth}}}.', validationDetails(parsed.error));
    // Only a live link gets the endpoint looked up: the check resolves the caller's host name, which no one
    // without a link may make the gateway do.
    if (!(await deps.subscriptions.enrollmentIsLive(parsed.data.enrollment_token))) throw enrollmentInvalid();
    // Before the token is spent, so a browser on an unsupported push service can be told without burning its link.
    const verdict = await deps.endpoints.check(parsed.data.subscription.endpoint);
    if (!verdict.ok && verdict.transient) {
      throw new HttpError(503, 'endpoint_unresolved', 'The push service could not be looked up just now; try again in a minute (the enrollment link is still valid).');
    }
    if (!verdict.ok) {
      throw new HttpError(422, 'endpoint_refused', `The subscription endpoint ${verdict.reason}: only https endpoints of the browsers' push services (or PUSH_ENDPOINT_HOSTS) are accepted.`, [
        { path: 'subscription.endpoint', problem: verdict.reason },
      ]);
    }
    const user = await deps.subscriptions.consumeEnrollment(parsed.data.enrollment_token);
    if (!user) throw enrollmentInvalid();
    const language = parsed.data.language && own(deps.texts.languages, parsed.data.language) ? parsed.data.language : deps.texts.default_language;
    const { id, previousOwner } = await deps.subscriptions.enroll(user, parsed.data.subscription, language);
    await deps.audit.record({ actor: user, action: 'push.device_enrolled', target: id, detail: { user_name: user, moved_from: previousOwner } });
    deps.logger.info({ user, device: id, movedFrom: previousOwner }, 'push device enrolled');
    res.status(201).json({ status: 'subscribed', user_name: user });
  });

  router.delete('/push/subscriptions', json, async (req, res) => {
    const parsed = removalSchema.safeParse(req.body);
    if (!parsed.success) throw new HttpError(422, 'invalid_subscription', 'Send {"endpoint", "keys": {"auth"}} of the device to remove.', validationDetails(parsed.error));
    const removed = await deps.subscriptions.removeByDevice(parsed.data.endpoint, parsed.data.keys.auth);
    if (!removed) throw new HttpError(404, 'not_found', 'No such subscription.');
    await deps.audit.record({ actor: removed.user, action: 'push.device_unsubscribed', target: removed.id, detail: { user_name: removed.user } });
    deps.logger.info({ user: removed.user, device: removed.id }, 'push device unsubscribed');
    res.json({ status: 'removed' });
  });
  return router;
}
