import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import { Router, type Request, type RequestHandler, type Response } from 'express';
import { maskPersonal } from '../admin/masking';
import { sealContext, type PayloadCodec } from '../security/payload-codec';
import type { AdminSessionStore } from '../store/admin-sessions';
import type { LoginThrottle } from '../store/login-throttle';
import { bearerToken } from './admin';
import { cookieReader, secureCookie, SESSION_ID_VALUE } from './cookies';
import { throttledTokenCheck } from './auth';
import { HttpError } from './errors';
import { parseFormBody } from './form-body';
import { readRawBody } from './json-body';

const BASE = '/admin/queues';
/** Holds a random session id, never the admin token. */
export const SESSION_COOKIE = 'pmg_admin_session';

export interface QueueDashboardDeps {
  queues: Queue[];
  token: string;
  codec: PayloadCodec;
  sessions: AdminSessionStore;
  sessionTtlSeconds: number;
  loginThrottle: LoginThrottle;
}

const sessionId = cookieReader(SESSION_COOKIE, SESSION_ID_VALUE);

const LOGIN_PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Queue dashboard</title></head><body>
<h1>Queue dashboard</h1><form method="post" action="${BASE}/login"><label>Admin token <input type="password" name="token" autocomplete="off" required></label>
<button type="submit">Open</button></form></body></html>`;

function askToLogIn(req: Request, res: Response): void {
  if (req.method === 'GET' && req.path === '/' && req.accepts(['json', 'html']) === 'html') {
    res.status(401).set('Content-Security-Policy', "default-src 'none'; form-action 'self'").type('html').send(LOGIN_PAGE);
    return;
  }
  throw new HttpError(401, 'unauthorized', 'Send "Authorization: Bearer <ADMIN_TOKEN>", or log in at /admin/queues.', [], { 'WWW-Authenticate': 'Bearer' });
}

/**
 * BullMQ's dashboard (bull-board ships no authentication) behind the admin token, read-only, with job data
 * masked. Every change to a message goes through the audited /admin/dead-letters routes: bull-board's "Update
 * data" would save the masked view over the real payload, and its clean/retry/add bypass the audit trail.
 * A browser logs in by posting the token once; its cookie then carries a server-side session id.
 */
export function queueDashboard(deps: QueueDashboardDeps): Router {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(BASE);
  const adapters = deps.queues.map((q) => {
    const adapter = new BullMQAdapter(q, { readOnlyMode: true, allowRetries: false });
    adapter.setFormatter('data', (data: unknown) => {
      try {
        return maskPersonal(deps.codec.decode(data, sealContext.job(q.name)));
      } catch {
        return '[encrypted]';
      }
    });
    return adapter;
  });
  createBullBoard({ queues: adapters, serverAdapter, options: { uiConfig: { boardTitle: 'Primero gateway queues' } } });
  const tokenCheck = throttledTokenCheck(deps.token, deps.loginThrottle);
  const cookieOptions = (req: Request) => ({ httpOnly: true, sameSite: 'strict' as const, secure: secureCookie(req), path: BASE });

  const router = Router();
  router.post(`${BASE}/login`, readRawBody(4 * 1024), async (req, res) => {
    if (!(await tokenCheck(req, parseFormBody(req.body).get('token') ?? ''))) {
      res.status(401).type('html').send(LOGIN_PAGE);
      return;
    }
    const id = await deps.sessions.create(deps.sessionTtlSeconds, deps.token);
    res.cookie(SESSION_COOKIE, id, { ...cookieOptions(req), maxAge: deps.sessionTtlSeconds * 1000 });
    res.redirect(303, BASE);
  });
  router.post(`${BASE}/logout`, async (req, res) => {
    const id = sessionId(req);
    if (id) await deps.sessions.end(id);
    res.clearCookie(SESSION_COOKIE, cookieOptions(req));
    res.redirect(303, BASE);
  });

  const authenticated: RequestHandler = async (req, res, next) => {
    const header = bearerToken(req);
    const id = sessionId(req);
    const ok = header !== null ? await tokenCheck(req, header) : id !== null && (await deps.sessions.valid(id, deps.token));
    if (ok) return next();
    askToLogIn(req, res);
  };
  const readOnly: RequestHandler = (req, _res, next) => {
    if (req.method === 'GET' || req.method === 'HEAD') return next();
    throw new HttpError(405, 'read_only', 'The queue dashboard is read-only: replay or discard through /admin/dead-letters, which are audited.', [], { Allow: 'GET, HEAD' });
  };
  router.use(BASE, authenticated, readOnly, serverAdapter.getRouter());
  return router;
}
