import type { Request, Router } from 'express';
import type { DeadLetters } from '../admin/dead-letters';
import { resendMatching } from '../admin/resend-matching';
import { actorOf, asConflict, filterOf, type Json } from './admin';
import { HttpError } from './errors';

const RESEND_REASON_HELP =
  'Send {"reason": "..."} as the JSON body, at most 200 characters: say what you checked, e.g. "provider log shows no delivery"; no names or numbers.';

const bodyOf = (req: Request): Record<string, unknown> => {
  const body: unknown = req.body ?? {};
  return typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : { reason: undefined, invalid: true };
};

/** A resend's reason, from the JSON body only (an address, query string included, ends up in proxies' access logs). */
function resendReasonOf(req: Request, body: Record<string, unknown>, allowed: readonly string[]): string {
  const reason = body.reason;
  const known = Object.keys(body).every((k) => k === 'reason' || allowed.includes(k));
  if (req.query.reason !== undefined || !known || typeof reason !== 'string' || !reason.trim() || reason.length > 200) {
    throw new HttpError(422, 'reason_required', RESEND_REASON_HELP);
  }
  return reason;
}

const FILTER_FIELDS = ['queue', 'error', 'min_age_hours', 'max_age_hours', 'dry_run'] as const;

/** Sending a "not confirmed" dead letter again, after the operator checked with the provider that it did not go out. */
export function resendRoutes(router: Router, deadLetters: DeadLetters, json: Json): void {
  // Every "not confirmed" letter of one queue (a dry run unless "dry_run": false), each resent as one would be.
  router.post('/admin/dead-letters/resend', json, async (req, res) => {
    const body = bodyOf(req);
    const reason = resendReasonOf(req, body, FILTER_FIELDS);
    const filter = filterOf(body, ['reason', 'dry_run']);
    if (!filter.queue) throw new HttpError(422, 'queue_required', 'Send "queue": the queue whose "not confirmed" letters you checked.');
    const result = await resendMatching(deadLetters, { ...filter, queue: filter.queue }, actorOf(req), reason, body.dry_run !== false);
    res.status(result.outcome?.failed.length ? 500 : 200).json({ dry_run: result.dryRun, count: result.matched.length, dead_letters: result.matched, ...result.outcome });
  });

  router.post('/admin/dead-letters/:id/resend', json, async (req, res) => {
    const reason = resendReasonOf(req, bodyOf(req), []);
    const resent = await deadLetters.resend(req.params.id as string, actorOf(req), reason).catch(asConflict);
    if (!resent) throw new HttpError(404, 'not_found', 'No dead letter with this id.');
    res.status(202).json({ status: 'resent', dead_letter: resent });
  });
}
