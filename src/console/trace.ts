import type { Router } from 'express';
import { traceMessage, type MessageTrace, type MessageTraceSources } from '../admin/message-trace';
import { normaliseReference } from '../domain/reference';
import { HttpError } from '../http/errors';
import { pageContext } from './context';
import { shortError } from './dead-letter-forms';
import { html, when, type SafeHtml } from './html';
import { path, sendPage, type PageContext } from './layout';

function lookupForm(ctx: PageContext, reference: string): SafeHtml {
  return html`<section><form method="get" action="${path('trace')}"><p>${ctx.t.trace_intro}</p><label for="reference">${ctx.t.reference}</label>
<input id="reference" name="reference" value="${reference}" maxlength="20" autocapitalize="characters" autocomplete="off" required><button type="submit">${ctx.t.lookup}</button></form></section>`;
}

function traceView(ctx: PageContext, found: MessageTrace): SafeHtml {
  const { t } = ctx;
  const record = found.record
    ? html`<tr><th>${t.record}</th><td>${found.record.type}</td></tr><tr><th>${t.case_id}</th><td id="case-id">${found.record.case_id_display ?? found.record.id}</td></tr><tr><th>${t.channel}</th><td>${found.record.channel}</td></tr>`
    : html`<tr><th>${t.record}</th><td>–</td></tr>`;
  const job = found.job ? html`<tr><th>${t.job_state}</th><td>${found.job.state}${found.job.error ? html`<br><span class="muted">${shortError(found.job.error)}</span>` : ''}</td></tr>` : '';
  const events = found.timeline.map((e) => {
    const detail = Object.entries(e.detail ?? {}).map(([k, v]) => `${k}: ${String(v)}`).join(', ');
    return html`<li class="card"><b>${e.event}</b> <span class="muted">${when(e.at)}</span>${detail ? html`<br><span class="muted">${detail}</span>` : ''}</li>`;
  });
  return html`<section><h2>${found.reference}</h2><table><tbody>${record}${job}</tbody></table></section><section><h2>${t.timeline}</h2><ol class="items" id="timeline">${events}</ol></section>`;
}

/** A reference's timeline, from the same lookup as GET /admin/messages/:reference. */
export function traceRoute(router: Router, sources: MessageTraceSources): void {
  router.get(path('trace'), async (req, res) => {
    const ctx = pageContext(res);
    const given = typeof req.query.reference === 'string' ? req.query.reference.trim() : '';
    if (given === '') return sendPage(res, ctx, ctx.t.nav_trace, lookupForm(ctx, ''), { current: 'trace' });
    const reference = normaliseReference(given);
    if (!reference) throw new HttpError(422, 'invalid_reference', 'A reference is 8 characters from 23456789ABCDEFGHJKLMNPQRSTUVWXYZ.');
    const found = await traceMessage(sources, reference);
    if (!found) throw new HttpError(404, 'not_found', ctx.t.trace_not_found);
    sendPage(res, ctx, ctx.t.nav_trace, html`${traceView(ctx, found)}${lookupForm(ctx, reference)}`, { current: 'trace' });
  });
}
