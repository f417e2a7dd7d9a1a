import type { Router } from 'express';
import type { DeadLetters, DeadLetterSummary } from '../admin/dead-letters';
import { asConflict } from '../http/admin';
import { HttpError } from '../http/errors';
import { formOf, pageContext } from './context';
import { actionButton, deadLetterPath, reasonForm, requiredReason, shortError } from './dead-letter-forms';
import { html, when, type SafeHtml } from './html';
import { path, sendPage, type PageContext } from './layout';

const gone = () => new HttpError(404, 'not_found', 'No dead letter with this id (already replayed or discarded?).');

function summary(ctx: PageContext, d: DeadLetterSummary): SafeHtml {
  const { t } = ctx;
  return html`<section><table><tbody><tr><th>${t.reference}</th><td>${d.reference ?? '–'}</td></tr><tr><th>${t.queue}</th><td>${d.queue}</td></tr>
<tr><th>${t.error}</th><td>${shortError(d.error)}</td></tr><tr><th>${t.attempts}</th><td>${d.attempts}</td></tr><tr><th>${t.failed_at}</th><td>${when(d.failedAt)}</td></tr></tbody></table></section>`;
}

const payload = (title: string, data: unknown, warning?: string) =>
  html`<section><h2>${title}</h2>${warning ? html`<p class="problem">${warning}</p>` : ''}<pre>${JSON.stringify(data, null, 2)}</pre></section>`;

/**
 * One dead letter: masked (no audit entry, nothing revealed), revealed only in the answer to a POST with a reason
 * (audited, never cached), replayed (or, held as "not confirmed", resent with a reason: audited), or discarded with a reason (audited): the DeadLetters service the JSON routes use.
 */
export function deadLetterRoutes(router: Router, deadLetters: DeadLetters): void {
  router.get(path('dead-letters/:id'), async (req, res) => {
    const ctx = pageContext(res);
    const id = req.params.id as string;
    const found = await deadLetters.show(id, ctx.actor, false);
    if (!found) throw gone();
    const { t } = ctx;
    // A "not confirmed" letter is never replayed: it may only be resent, with a reason, after checking.
    const again = found.notConfirmed
      ? reasonForm(ctx, `${deadLetterPath(id)}/resend`, t.resend_intro, t.resend, true)
      : html`<div class="actions">${actionButton(ctx, `${deadLetterPath(id)}/replay`, t.replay)}</div>`;
    const actions = html`<section>${again}
${reasonForm(ctx, `${deadLetterPath(id)}/reveal`, t.reveal_intro, t.reveal, false)}${reasonForm(ctx, `${deadLetterPath(id)}/discard`, t.discard_intro, t.discard, true)}</section>`;
    sendPage(res, ctx, found.reference ?? found.id, html`${summary(ctx, found)}${actions}${payload(t.masked_payload, found.data)}`, { current: 'dead-letters' });
  });

  router.post(path('dead-letters/:id/reveal'), async (req, res) => {
    const ctx = pageContext(res);
    const reason = requiredReason(formOf(res));
    const found = await deadLetters.show(req.params.id as string, ctx.actor, true, reason);
    if (!found) throw gone();
    sendPage(res, ctx, found.reference ?? found.id, html`${summary(ctx, found)}${payload(ctx.t.revealed_payload, found.data, ctx.t.revealed_warning)}<p><a class="button" href="${deadLetterPath(found.id)}">${ctx.t.back}</a></p>`, { current: 'dead-letters' });
  });

  router.post(path('dead-letters/:id/replay'), async (req, res) => {
    if (!(await deadLetters.replay(req.params.id as string, pageContext(res).actor).catch(asConflict))) throw gone();
    res.redirect(303, `${path('dead-letters')}?done=replayed`);
  });

  router.post(path('dead-letters/:id/resend'), async (req, res) => {
    const ctx = pageContext(res);
    const reason = requiredReason(formOf(res));
    if (!(await deadLetters.resend(req.params.id as string, ctx.actor, reason).catch(asConflict))) throw gone();
    res.redirect(303, `${path('dead-letters')}?done=resent`);
  });

  router.post(path('dead-letters/:id/discard'), async (req, res) => {
    const ctx = pageContext(res);
    const reason = requiredReason(formOf(res));
    if (!(await deadLetters.discard(req.params.id as string, ctx.actor, reason))) throw gone();
    res.redirect(303, `${path('dead-letters')}?done=discarded`);
  });
}
