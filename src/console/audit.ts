import type { Router } from 'express';
import type { AuditLog } from '../store/audit';
import { pageContext } from './context';
import { html, when } from './html';
import { path, sendPage } from './layout';

/** Enough to answer "who did this, and when" on a phone; GET /admin/audit?limit= reaches further back. */
const SHOWN = 100;

/** The audit trail, newest first, as GET /admin/audit shows it. */
export function auditRoute(router: Router, audit: AuditLog): void {
  router.get(path('audit'), async (_req, res) => {
    const ctx = pageContext(res);
    const entries = await audit.recent(SHOWN);
    const items = entries.map((e) => {
      const detail = Object.entries(e.detail ?? {}).map(([k, v]) => `${k}: ${String(v)}`).join(', ');
      return html`<li class="card"><b>${e.action}</b> <span class="muted">${when(e.at)}</span><br>${e.actor} · ${e.target}${detail ? html`<br><span class="muted">${detail}</span>` : ''}</li>`;
    });
    const list = entries.length ? html`<ol class="items" id="audit">${items}</ol>` : html`<p>${ctx.t.audit_none}</p>`;
    sendPage(res, ctx, ctx.t.nav_audit, html`<p class="muted">${ctx.t.audit_intro}</p>${list}`, { current: 'audit' });
  });
}
