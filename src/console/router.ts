import { Router, type ErrorRequestHandler, type RequestHandler } from 'express';
import type { DeadLetters } from '../admin/dead-letters';
import type { ForgetContact } from '../admin/forget';
import type { MessageTraceSources } from '../admin/message-trace';
import type { OverviewReader } from '../admin/overview-types';
import { HttpError } from '../http/errors';
import { readRawBody } from '../http/json-body';
import type { Logger } from '../logger';
import type { AdminSessionStore } from '../store/admin-sessions';
import type { LoginThrottle } from '../store/login-throttle';
import { CONSOLE_CSS, OVERVIEW_JS } from './assets';
import { authenticated, languageStep, problemPage, sameSiteForms } from './context';
import { replayMatchingRoutes } from './dead-letter-replay';
import { deadLetterListRoute } from './dead-letter-list';
import { deadLetterRoutes } from './dead-letter-one';
import { auditRoute } from './audit';
import { deviceRoutes, type DevicePageDeps } from './devices';
import { forgetRoutes } from './forget';
import { path } from './layout';
import { loginRoutes, logoutRoute } from './login';
import { crossSiteCheck } from './origin';
import { overviewRoutes } from './overview';
import type { ReplayBatches } from '../store/replay-batches';
import { CONSOLE_BASE, ConsoleSessions } from './session';
import type { ConsoleLanguages } from './texts';
import { traceRoute } from './trace';

export interface ConsoleDeps extends DevicePageDeps {
  token: string;
  loginThrottle: LoginThrottle;
  sessions: AdminSessionStore;
  sessionTtlSeconds: number;
  texts: ConsoleLanguages;
  overview: OverviewReader;
  deadLetters: DeadLetters;
  queueNames: readonly string[];
  trace: MessageTraceSources;
  forget: ForgetContact;
  logger: Logger;
  /** The origin the console's forms come from when a proxy rewrites Host (PUBLIC_URL). */
  publicUrl: string | undefined;
  replayBatches: ReplayBatches;
}

const readBody = readRawBody(16 * 1024);

const ASSET_HEADERS = { 'Cache-Control': 'public, max-age=3600', 'X-Content-Type-Options': 'nosniff' };

/** Forms are small (a reason, a filter, a user name); each POST's is read once, before the cross-site check needs it. */
const readForm: RequestHandler = (req, res, next) => {
  if (req.method !== 'POST') return next();
  readBody(req, res, (err?: unknown) => {
    if (err) return next(err);
    res.locals.form = new URLSearchParams(Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '');
    next();
  });
};

function consoleErrors(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    if (err instanceof HttpError) return problemPage(res.set(err.headers), err);
    logger.error({ err, route: req.path }, 'unhandled error in the console');
    problemPage(res, new HttpError(500, 'internal_error', 'The console failed to do this; try again, or use the CLI.'));
  };
}

/**
 * The operator console: server-rendered pages over the services the JSON admin routes and the CLI use, behind the
 * admin token (a browser session or a Bearer header), every form guarded against cross-site requests.
 */
export function operatorConsole(deps: ConsoleDeps): Router {
  const sessions = new ConsoleSessions(deps.sessions, deps.token, deps.sessionTtlSeconds);
  const crossSite = crossSiteCheck(deps.publicUrl);
  const router = Router();
  router.get(path('console.css'), (_req, res) => res.type('css').set(ASSET_HEADERS).send(CONSOLE_CSS));
  router.get(path('overview.js'), (_req, res) => res.type('js').set(ASSET_HEADERS).send(OVERVIEW_JS));
  router.use(CONSOLE_BASE, languageStep(deps.texts), readForm);
  loginRoutes(router, { token: deps.token, loginThrottle: deps.loginThrottle, sessions, crossSite });
  // Everything registered below answers only an operator: the log-in page and the assets above are all that is open.
  router.use(CONSOLE_BASE, authenticated({ token: deps.token, loginThrottle: deps.loginThrottle, sessions }), sameSiteForms(crossSite));
  logoutRoute(router, sessions);
  overviewRoutes(router, deps.overview);
  replayMatchingRoutes(router, { deadLetters: deps.deadLetters, batches: deps.replayBatches });
  deadLetterListRoute(router, deps.deadLetters, deps.queueNames);
  deadLetterRoutes(router, deps.deadLetters);
  traceRoute(router, deps.trace);
  deviceRoutes(router, deps);
  forgetRoutes(router, deps.forget, deps.logger);
  auditRoute(router, deps.audit, deps.sessions, sessions);
  router.use(CONSOLE_BASE, (_req, _res, next) => next(new HttpError(404, 'not_found', 'There is no such console page.')));
  router.use(CONSOLE_BASE, consoleErrors(deps.logger));
  return router;
}
