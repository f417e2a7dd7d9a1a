import type { Router } from 'express';
import type { DeadLetters, DeadLetterSummary } from '../admin/dead-letters';
import { pageContext } from './context';
import { actionButton, deadLetterPath, filterFields, filterForm, filterFrom, shortError } from './dead-letter-forms';
import { html, when, type SafeHtml } from './html';
import { path, sendPage, type PageContext } from './layout';
import { fill, type TextKey } from './texts';

/** A page stays small on a slow link: the newest this many are listed, the filter finds the rest. */
const SHOWN = 50;

// Only notices without figures: a link can set `?done=`, so a notice says nothing a link could make misleading.
const NOTICES: Record<string, TextKey> = { replayed: 'replayed_notice', resent: 'resent_notice', discarded: 'discarded_notice' };

function item(ctx: PageContext, d: DeadLetterSummary): SafeHtml {
  const { t } = ctx;
  return html`<li class="card dead-letter" data-id="${d.id}"><b>${d.reference ?? d.id}</b> <span class="muted">${d.queue}</span>
<br>${shortError(d.error)}<br><span class="muted">${t.failed_at}: ${when(d.failedAt)} · ${t.attempts}: ${d.attempts}</span>
<div class="actions"><a class="button" href="${deadLetterPath(d.id)}">${t.view}</a>${d.notConfirmed ? '' : actionButton(ctx, `${deadLetterPath(d.id)}/replay`, t.replay)}</div></li>`;
}

function notice(ctx: PageContext, done: unknown): SafeHtml | '' {
  const key = typeof done === 'string' && Object.hasOwn(NOTICES, done) ? NOTICES[done] : undefined;
  return key ? html`<p class="notice" role="status">${ctx.t[key]}</p>` : '';
}

/** The list with its filter (the same one GET /admin/dead-letters reads), each with its view and replay. */
export function deadLetterListRoute(router: Router, deadLetters: DeadLetters, queues: readonly string[]): void {
  router.get(path('dead-letters'), async (req, res) => {
    const ctx = pageContext(res);
    const fields = filterFields((name) => req.query[name]);
    const all = await deadLetters.list(filterFrom(fields));
    const { t } = ctx;
    const listed = all.length === 0 ? html`<p>${t.dl_empty}</p>` : html`<p class="muted">${fill(t.dl_showing, { shown: Math.min(SHOWN, all.length), total: all.length })}</p><ul class="items" id="dead-letters">${all.slice(0, SHOWN).map((d) => item(ctx, d))}</ul>`;
    sendPage(res, ctx, t.nav_dead_letters, html`${notice(ctx, req.query.done)}${listed}${filterForm(ctx, queues, fields)}`, { current: 'dead-letters' });
  });
}
