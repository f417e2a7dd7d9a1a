import type { Router } from 'express';
import { endAllSessions } from '../admin/sessions';
import type { AdminSessionStore } from '../store/admin-sessions';
import type { AuditLog } from '../store/audit';
import { pageContext } from './context';
import type { ConsoleSessions } from './session';
import { html, when, type SafeHtml } from './html';
import { csrfField, path, sendPage, type PageContext } from './layout';

/** Enough to answer "who did this, and when" on a phone; GET /admin/audit?limit= reaches further back. */
const SHOWN = 100;

/** After a token rotation or a lost phone: every browser, this one included, must log in again. */
function endAllForm(ctx: PageContext): SafeHtml {
  return html`<section><p class="muted">${ctx.t.sessions_end_all_intro}</p><form method="post" action="${path('sessions/end-all')}">${csrfField(ctx)}<button type="submit" class="danger">${ctx.t.sessions_end_all}</button></form></section>`;
}

/** The audit trail, newest first, as GET /admin/audit shows it; and `sessions end-all`, which it records. */
export function auditRoute(router: Router, audit: AuditLog, sessions: AdminSessionStore, browser: ConsoleSessions): void {
  router.post(path('sessions/end-all'), async (req, res) => {
    await endAllSessions(sessions, audit, pageContext(res).actor);
    // This browser's session went with the others: drop its cookie and cached pages as a log-out does.
    await browser.close(req, res);
    res.redirect(303, path('login'));
  });
  router.get(path('audit'), async (_req, res) => {
    const ctx = pageContext(res);
    const entries = await audit.recent(SHOWN);
    const items = entries.map((e) => {
      const detail = Object.entries(e.detail ?? {}).map(([k, v]) => `${k}: ${String(v)}`).join(', ');
      return html`<li class="card"><b>${e.action}</b> <span class="muted">${when(e.at)}</span><br>${e.actor} · ${e.target}${detail ? html`<br><span class="muted">${detail}</span>` : ''}</li>`;
    });
    const list = entries.length ? html`<ol class="items" id="audit">${items}</ol>` : html`<p>${ctx.t.audit_none}</p>`;
    sendPage(res, ctx, ctx.t.nav_audit, html`<p class="muted">${ctx.t.audit_intro}</p>${list}${endAllForm(ctx)}`, { current: 'audit' });
  });
}
