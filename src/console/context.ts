import type { RequestHandler, Response } from 'express';
import type { LoginThrottle } from '../store/login-throttle';
import { bearerToken } from '../http/admin';
import { secretsEqual, throttledTokenCheck } from '../http/auth';
import { HttpError } from '../http/errors';
import { path, sendPage, type PageContext } from './layout';
import { html } from './html';
import type { CrossSiteCheck } from './origin';
import { actorOrDefault, CONSOLE_BASE, cookieOptions, type ConsoleSessions } from './session';
import { LANGUAGE_COOKIE, languageOf, type ConsoleLanguages } from './texts';

/** The page context the authentication step left on the response. */
export const pageContext = (res: Response): PageContext => res.locals.page as PageContext;

/** The posted form's fields (empty for a bodiless POST), read by `readForm`. */
export const formOf = (res: Response): URLSearchParams => (res.locals.form as URLSearchParams | undefined) ?? new URLSearchParams();

/** The language of the page (a `?lang=` choice is kept in a cookie for the next ones). */
export function languageStep(texts: ConsoleLanguages): RequestHandler {
  return (req, res, next) => {
    const lang = languageOf(req, texts);
    if (typeof req.query.lang === 'string' && req.query.lang.toLowerCase() === lang) res.cookie(LANGUAGE_COOKIE, lang, { ...cookieOptions(req), maxAge: 365 * 86_400_000 });
    res.locals.page = { t: texts.languages[lang]!, lang, actor: '', csrf: null } satisfies PageContext;
    next();
  };
}

export interface AuthDeps {
  token: string;
  loginThrottle: LoginThrottle;
  sessions: ConsoleSessions;
}

/**
 * A Bearer caller (the admin token in a header, named by X-Operator as on the JSON routes) or a browser session
 * (named at log-in). Anyone else is sent to the log-in page (a GET) or refused (anything else).
 */
export function authenticated(deps: AuthDeps): RequestHandler {
  const tokenCheck = throttledTokenCheck(deps.token, deps.loginThrottle);
  return async (req, res, next) => {
    const page = pageContext(res);
    const bearer = bearerToken(req);
    if (bearer !== null) {
      if (!(await tokenCheck(req, bearer))) throw new HttpError(401, 'unauthorized', 'That is not the admin token.', [], { 'WWW-Authenticate': 'Bearer' });
      res.locals.page = { ...page, actor: actorOrDefault(req.get('x-operator')), csrf: null } satisfies PageContext;
      return next();
    }
    const session = await deps.sessions.current(req);
    if (session) {
      res.locals.page = { ...page, actor: session.actor, csrf: session.csrf } satisfies PageContext;
      return next();
    }
    if (req.method === 'GET' || req.method === 'HEAD') return res.redirect(303, path('login'));
    throw new HttpError(401, 'unauthorized', 'Log in first.');
  };
}

/**
 * Every POST: from this origin, and (for a browser session) carrying the session's token; a Bearer caller sends a
 * header no other site can make a browser send, so its requests cannot be forged.
 */
export function sameSiteForms(crossSite: CrossSiteCheck): RequestHandler {
  return (req, res, next) => {
    if (req.method !== 'POST') return next();
    if (crossSite(req)) throw new HttpError(403, 'cross_site', 'This form was sent from another site.');
    const page = pageContext(res);
    if (page.csrf === null) return next();
    if (!secretsEqual(formOf(res).get('_csrf') ?? '', page.csrf)) throw new HttpError(403, 'csrf', 'This form has expired: open the page again and resend it.');
    next();
  };
}

/** The page shown after an action, with a link back: the one answer for an action that failed or a route that is not there. */
export function problemPage(res: Response, err: HttpError): void {
  const page = pageContext(res);
  sendPage(res, page, page.t.error_title, html`<p class="problem" role="alert">${err.message}</p><p><a class="button" href="${CONSOLE_BASE}">${page.t.back}</a></p>`, { status: err.status, current: null, bare: page.actor === '' });
}
