import type { Router } from 'express';
import { forgetTarget, type ForgetContact, type ForgetReport } from '../admin/forget';
import { HttpError } from '../http/errors';
import type { Logger } from '../logger';
import { formOf, pageContext } from './context';
import { html, type SafeHtml } from './html';
import { csrfField, path, sendPage, type PageContext } from './layout';

function forgetForm(ctx: PageContext): SafeHtml {
  return html`<section><p>${ctx.t.forget_intro}</p><form method="post" action="${path('forget')}">${csrfField(ctx)}<label for="forget-target">${ctx.t.forget_label}</label>
<input id="forget-target" name="target" required maxlength="200" autocomplete="off" autocapitalize="none" spellcheck="false"><button type="submit" class="danger">${ctx.t.forget_button}</button></form></section>`;
}

/** What went, in counts and references: never the identifier the operator typed. */
function report(ctx: PageContext, r: ForgetReport): SafeHtml {
  const { t } = ctx;
  const row = (label: string, value: string | number) => html`<tr><th>${label}</th><td>${value}</td></tr>`;
  return html`<section><p class="notice" role="status">${r.nothingFound ? t.forget_nothing_found : t.forget_done}</p><table><tbody>${row(t.forget_references, r.references.join(', ') || '–')}${row(t.forget_jobs_removed, r.jobsRemoved)}
${row(t.forget_undecodable, r.jobsUndecodable.length)}${row(t.forget_active_skipped, r.jobsActiveSkipped)}${row(t.forget_opt_out_kept, r.optOutKept ? t.yes : t.no)}</tbody></table></section>`;
}

/** Forgetting a person (POST /admin/contacts/forget's service): a URN or a RapidPro contact UUID typed once, posted, never echoed. */
export function forgetRoutes(router: Router, forget: ForgetContact, logger: Logger): void {
  router.get(path('forget'), (_req, res) => {
    const ctx = pageContext(res);
    sendPage(res, ctx, ctx.t.nav_forget, forgetForm(ctx), { current: 'forget' });
  });
  router.post(path('forget'), async (_req, res) => {
    const ctx = pageContext(res);
    const target = forgetTarget(formOf(res).get('target') ?? '');
    if (!target || (!/^[a-z]+:.+/.test(target) && !/^[0-9a-f-]{36}$/.test(target))) {
      throw new HttpError(422, 'invalid_urn', 'Give a RapidPro-style URN (tel:+…, whatsapp:…) or a RapidPro contact UUID.');
    }
    const r = await forget.forget(target, ctx.actor);
    logger.info({ references: r.references.length, jobsRemoved: r.jobsRemoved }, 'contact forgotten');
    sendPage(res, ctx, ctx.t.nav_forget, html`${report(ctx, r)}${forgetForm(ctx)}`, { current: 'forget' });
  });
}
