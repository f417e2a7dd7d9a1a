import { Router, type Request, type Response } from 'express';
import { throttledTokenCheck } from '../http/auth';
import { HttpError } from '../http/errors';
import type { LoginThrottle } from '../store/login-throttle';
import { formOf, pageContext } from './context';
import { html } from './html';
import { path, sendPage } from './layout';
import type { CrossSiteCheck } from './origin';
import { actorOrDefault, CONSOLE_BASE, type ConsoleSessions } from './session';

export interface LoginDeps {
  token: string;
  loginThrottle: LoginThrottle;
  sessions: ConsoleSessions;
  crossSite: CrossSiteCheck;
}

function loginPage(res: Response, status: number, failed: boolean): void {
  const { t } = pageContext(res);
  sendPage(
    res,
    pageContext(res),
    t.log_in,
    html`<section><p>${t.login_intro}</p>${failed ? html`<p class="problem" role="alert">${t.login_failed}</p>` : ''}
<form method="post" action="${path('login')}"><label for="token">${t.token_label}</label><input id="token" type="password" name="token" autocomplete="off" required>
<label for="operator">${t.name_label}</label><input id="operator" name="operator" autocomplete="username" maxlength="64" pattern="[A-Za-z0-9._@\\-]{1,64}">
<button type="submit">${t.log_in}</button></form></section>`,
    { status, bare: true },
  );
}

/** Log-in posts the admin token once (throttled like every admin token check) and a name for the audit trail. */
export function loginRoutes(router: Router, deps: LoginDeps): void {
  const tokenCheck = throttledTokenCheck(deps.token, deps.loginThrottle);
  router.get(path('login'), (_req, res) => loginPage(res, 200, false));
  router.post(path('login'), async (req: Request, res: Response) => {
    if (deps.crossSite(req)) throw new HttpError(403, 'cross_site', 'This form was sent from another site.');
    const form = formOf(res);
    if (!(await tokenCheck(req, form.get('token') ?? ''))) return loginPage(res, 401, true);
    await deps.sessions.open(req, res, actorOrDefault(form.get('operator')));
    res.redirect(303, CONSOLE_BASE);
  });
}

/** Log-out ends the session in Redis, not only the cookie (a copied cookie opens nothing afterwards). */
export function logoutRoute(router: Router, sessions: ConsoleSessions): void {
  router.post(path('logout'), async (req, res) => {
    await sessions.close(req, res);
    res.redirect(303, path('login'));
  });
}
