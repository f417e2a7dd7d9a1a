import type { Request, Router } from 'express';
import type { DeadLetters } from '../admin/dead-letters';
import { actorOf, asConflict, type Json } from './admin';
import { HttpError } from './errors';

const RESEND_REASON_HELP =
  'Send {"reason": "..."} as the JSON body, at most 200 characters: say what you checked, e.g. "provider log shows no delivery"; no names or numbers.';

/** A resend's reason, from the JSON body only: an address (query string) ends up in proxies' access logs. */
function resendReasonOf(req: Request): string {
  const body = (req.body ?? {}) as Record<string, unknown>;
  const reason = body.reason;
  const onlyReason = typeof body === 'object' && !Array.isArray(body) && Object.keys(body).every((k) => k === 'reason');
  if (req.query.reason !== undefined || !onlyReason || typeof reason !== 'string' || !reason.trim() || reason.length > 200) {
    throw new HttpError(422, 'reason_required', RESEND_REASON_HELP);
  }
  return reason;
}

/** Sending a "not confirmed" dead letter again, after the operator checked with the provider that it did not go out. */
export function resendRoutes(router: Router, deadLetters: DeadLetters, json: Json): void {
  router.post('/admin/dead-letters/:id/resend', json, async (req, res) => {
    const reason = resendReasonOf(req);
    const resent = await deadLetters.resend(req.params.id as string, actorOf(req), reason).catch(asConflict);
    if (!resent) throw new HttpError(404, 'not_found', 'No dead letter with this id.');
    res.status(202).json({ status: 'resent', dead_letter: resent });
  });
}
