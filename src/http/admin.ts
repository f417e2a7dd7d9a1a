import express, { Router, type Request, type RequestHandler } from 'express';
import { parseDeadLetterFilter } from '../admin/dead-letter-filter';
import { DeadLetterRefused, type DeadLetterFilter, type DeadLetters } from '../admin/dead-letters';
import { DEVICE_ID, USER_NAME, type DeviceAdmin } from '../admin/devices';
import { ENROLLMENT_USER, issueEnrollment, type EnrollmentSettings } from '../admin/enrollments';
import { forgetTarget, type ForgetContact } from '../admin/forget';
import { traceMessage } from '../admin/message-trace';
import type { Overview, OverviewReader } from '../admin/overview-types';
import { normaliseReference } from '../domain/reference';
import type { Logger } from '../logger';
import type { AuditLog } from '../store/audit';
import type { ReferenceStore } from '../store/references';
import type { TraceStore } from '../store/trace';
import type { Queue } from 'bullmq';
import type { LoginThrottle } from '../store/login-throttle';
import { resendRoutes } from './admin-resend';
import { throttledTokenCheck } from './auth';
import { HttpError } from './errors';
import { validationDetails } from './json-body';

export interface AdminDeps {
  token: string;
  loginThrottle: LoginThrottle;
  deadLetters: DeadLetters;
  forget: ForgetContact;
  references: ReferenceStore;
  trace: TraceStore;
  audit: AuditLog;
  intakeQueue: Queue;
  /** null when VAPID keys are unset: enrollment is off. */
  enrollment: EnrollmentSettings | null;
  /** null when web push is off. */
  devices: DeviceAdmin | null;
  overview: OverviewReader;
  logger: Logger;
}

/** The token of `Authorization: Bearer <t>`; never a query parameter (it would land in proxy logs and browser history). */
export function bearerToken(req: Request): string | null {
  return /^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '')?.[1] ?? null;
}

/** `Authorization: Bearer <ADMIN_TOKEN>`. */
export function adminAuth(token: string, throttle: LoginThrottle): RequestHandler {
  const check = throttledTokenCheck(token, throttle);
  return async (req, _res, next) => {
    if (!(await check(req, bearerToken(req) ?? ''))) throw new HttpError(401, 'unauthorized', 'Send "Authorization: Bearer <ADMIN_TOKEN>".', [], { 'WWW-Authenticate': 'Bearer' });
    next();
  };
}

/** An operator's name as the audit trail keeps it (X-Operator, the console's log-in): anything else becomes `fallback`. */
export function operatorName(given: string | null | undefined, fallback: string): string {
  return given && /^[A-Za-z0-9._@-]{1,64}$/.test(given) ? given : fallback;
}

/** Who did it, for the audit trail: the X-Operator header, else "admin". */
export function actorOf(req: Request): string {
  return operatorName(req.get('x-operator'), 'admin');
}

/** `?reason=` on a reveal or a discard: why the operator did it, for the audit trail. */
function reasonOf(req: Request): string | undefined {
  const r = req.query.reason;
  if (r === undefined) return undefined;
  if (typeof r !== 'string' || r.length > 200) throw new HttpError(422, 'invalid_reason', 'Send ?reason=<why, at most 200 characters>.');
  return r;
}

/**
 * The dead-letter filter of GET /admin/dead-letters and the replay and resend routes; the console's filter form is read
 * by it too. `alsoAllowed` names the caller's own fields beside the filter (a replay's dry_run); any other key is refused.
 */
export function filterOf(input: unknown, alsoAllowed: readonly string[] = []): DeadLetterFilter {
  const given = typeof input === 'object' && input !== null ? Object.fromEntries(Object.entries(input).filter(([k]) => !alsoAllowed.includes(k))) : input;
  const parsed = parseDeadLetterFilter(given);
  if (!parsed.ok) throw new HttpError(422, 'invalid_filter', 'The dead-letter filter is not valid.', validationDetails(parsed.error));
  return parsed.filter;
}

export type Json = RequestHandler;

/** A dead-letter action refused for what the letter is: 409 with the letter's own code and what to do instead. */
export function asConflict(err: unknown): never {
  if (err instanceof DeadLetterRefused) throw new HttpError(409, err.code, err.message);
  throw err;
}

function deadLetterRoutes(router: Router, deps: AdminDeps, json: Json): void {
  router.get('/admin/dead-letters', async (req, res) => {
    // A list only reads: a field left empty in a query string (`?queue=&error=`) is a field not given, as on the
    // console's form. The replay routes, which move letters, still refuse one.
    const given = Object.fromEntries(Object.entries(req.query).filter(([, v]) => v !== ''));
    const items = await deps.deadLetters.list(filterOf(given));
    res.json({ count: items.length, dead_letters: items });
  });

  router.post('/admin/dead-letters/replay', json, async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const dryRun = body.dry_run !== false;
    const result = await deps.deadLetters.replayMatching(filterOf(body, ['dry_run']), actorOf(req), dryRun);
    const o = result.outcome;
    const outcome = o ? { replayed: o.replayed, gone: o.gone, failed: o.failed, not_confirmed: o.notConfirmed } : {};
    // Some could not be moved back: not a success. The same request again retries them (the others are no longer dead).
    res.status(result.outcome?.failed.length ? 500 : 200).json({ dry_run: result.dryRun, count: result.matched.length, dead_letters: result.matched, ...outcome });
  });

  router.get('/admin/dead-letters/:id', async (req, res) => {
    const found = await deps.deadLetters.show(req.params.id as string, actorOf(req), req.query.reveal === 'true', reasonOf(req));
    if (!found) throw new HttpError(404, 'not_found', 'No dead letter with this id.');
    res.json(found);
  });

  router.post('/admin/dead-letters/:id/replay', async (req, res) => {
    const replayed = await deps.deadLetters.replay(req.params.id as string, actorOf(req)).catch(asConflict);
    if (!replayed) throw new HttpError(404, 'not_found', 'No dead letter with this id.');
    res.status(202).json({ status: 'replayed', dead_letter: replayed });
  });

  resendRoutes(router, deps.deadLetters, json);

  router.delete('/admin/dead-letters/:id', async (req, res) => {
    const discarded = await deps.deadLetters.discard(req.params.id as string, actorOf(req), reasonOf(req));
    if (!discarded) throw new HttpError(404, 'not_found', 'No dead letter with this id.');
    res.json({ status: 'discarded', dead_letter: discarded });
  });
}

function messageRoutes(router: Router, deps: AdminDeps): void {
  router.get('/admin/messages/:reference', async (req, res) => {
    const reference = normaliseReference(req.params.reference as string);
    if (!reference) throw new HttpError(422, 'invalid_reference', 'A reference is 8 characters from 23456789ABCDEFGHJKLMNPQRSTUVWXYZ.');
    const found = await traceMessage({ references: deps.references, trace: deps.trace, intakeQueue: deps.intakeQueue }, reference);
    if (!found) throw new HttpError(404, 'not_found', 'Nothing is known about this reference (or it has been forgotten).');
    res.json(found);
  });
}

function contactRoutes(router: Router, deps: AdminDeps, json: Json): void {
  router.post('/admin/contacts/forget', json, async (req, res) => {
    const body = req.body as { urn?: unknown; contact_uuid?: unknown } | undefined;
    const given = body?.urn ?? body?.contact_uuid;
    const target = typeof given === 'string' ? forgetTarget(given) : null;
    if (!target || (body?.urn !== undefined && !/^[a-z]+:.+/.test(target))) {
      throw new HttpError(422, 'invalid_urn', 'Send {"urn": "tel:+…"} (a RapidPro-style URN) or {"contact_uuid": "…"} (a RapidPro contact UUID).');
    }
    const report = await deps.forget.forget(target, actorOf(req));
    deps.logger.info({ references: report.references.length, jobsRemoved: report.jobsRemoved }, 'contact forgotten');
    res.json(report);
  });
}

const PUSH_DISABLED = 'Web push is not configured (VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY, VAPID_SUBJECT).';

function enrollmentRoutes(router: Router, deps: AdminDeps, json: Json): void {
  router.post('/admin/enrollments', json, async (req, res) => {
    if (!deps.enrollment) throw new HttpError(404, 'push_disabled', PUSH_DISABLED);
    const user = (req.body as { user_name?: unknown } | undefined)?.user_name;
    if (typeof user !== 'string' || !ENROLLMENT_USER.test(user)) throw new HttpError(422, 'invalid_user_name', 'Send {"user_name": "<Primero user name>"}.');
    res.status(201).json(await issueEnrollment(deps.enrollment, deps.audit, user, actorOf(req)));
  });
}

function deviceRoutes(router: Router, deps: AdminDeps): void {
  const devicesOn = (): DeviceAdmin => {
    if (!deps.devices) throw new HttpError(404, 'push_disabled', PUSH_DISABLED);
    return deps.devices;
  };

  router.get('/admin/devices', async (req, res) => {
    const devices = devicesOn();
    const user = req.query.user_name;
    if (typeof user !== 'string' || !USER_NAME.test(user)) throw new HttpError(422, 'invalid_user_name', 'Send ?user_name=<Primero user name>.');
    const listed = await devices.list(user, actorOf(req));
    res.json({ user_name: user, count: listed.length, devices: listed });
  });

  router.delete('/admin/devices/:id', async (req, res) => {
    const devices = devicesOn();
    const id = req.params.id as string;
    if (!DEVICE_ID.test(id)) throw new HttpError(422, 'invalid_device_id', 'A device id is the "id" GET /admin/devices lists.');
    const revoked = await devices.revoke(id, actorOf(req));
    if (!revoked) throw new HttpError(404, 'not_found', 'No device with this id (already revoked or expired?).');
    res.json({ status: 'revoked', device: revoked });
  });
}

/** The overview in the admin API's snake_case: counts and states only. */
function overviewJson(o: Overview) {
  return {
    generated_at: o.generatedAt,
    messages_received: o.messagesReceived,
    cases_created: o.casesCreated,
    dead_letters: { count: o.deadLetters.count, oldest_failed_at: o.deadLetters.oldestFailedAt },
    queues: o.queues.map((q) => ({ queue: q.queue, waiting: q.waiting, active: q.active, delayed: q.delayed, failed: q.failed, oldest_age_seconds: q.oldestAgeSeconds })),
    destinations: o.destinations.map((d) => ({
      destination: d.destination,
      state: d.state,
      cause: d.cause,
      reason: d.reason,
      resumes_at: d.resumesAt,
      paused_queues: d.pauses.map((p) => ({ queue: p.queue, cause: p.cause, reason: p.reason, resumes_at: p.resumesAt })),
    })),
  };
}

function overviewRoute(router: Router, deps: AdminDeps): void {
  router.get('/admin/overview', async (_req, res) => {
    res.json(overviewJson(await deps.overview.read()));
  });
}

export function adminRouter(deps: AdminDeps): Router {
  const router = Router();
  const json = express.json({ limit: '16kb' });
  router.use('/admin', (req, res, next) => (req.path.startsWith('/queues') || req.path === '/console' || req.path.startsWith('/console/') ? next('router') : next()));
  router.use('/admin', adminAuth(deps.token, deps.loginThrottle));
  deadLetterRoutes(router, deps, json);
  messageRoutes(router, deps);
  contactRoutes(router, deps, json);
  enrollmentRoutes(router, deps, json);
  deviceRoutes(router, deps);
  overviewRoute(router, deps);
  router.get('/admin/audit', async (req, res) => {
    const limit = Math.min(1000, Math.max(1, Number(req.query.limit ?? 100) || 100));
    res.json({ entries: await deps.audit.recent(limit) });
  });
  return router;
}
