import type { Router } from 'express';
import type { DeadLetters } from '../admin/dead-letters';
import type { AuditLog } from '../store/audit';
import { HttpError } from '../http/errors';
import { formOf, pageContext } from './context';
import { actionButton, filterFields, filterFrom, query } from './dead-letter-forms';
import { html } from './html';
import { path, sendPage } from './layout';
import type { ReplayBatches } from './replay-batches';
import { fill } from './texts';

export interface ReplayMatchingDeps {
  deadLetters: DeadLetters;
  batches: ReplayBatches;
  audit: AuditLog;
}

/**
 * Replaying a filtered set: first the dry run's count (a GET changes nothing but keeping what it counted), then a
 * POST that replays those counted and still dead letters, one by one through the service the JSON route uses.
 */
export function replayMatchingRoutes(router: Router, { deadLetters, batches, audit }: ReplayMatchingDeps): void {
  router.get(path('dead-letters/replay'), async (req, res) => {
    const ctx = pageContext(res);
    const fields = filterFields((name) => req.query[name]);
    const { matched } = await deadLetters.replayMatching(filterFrom(fields), ctx.actor, true);
    const { t } = ctx;
    const filterText = Object.entries(fields).map(([name, value]) => html`<li>${name}: ${value}</li>`);
    const batch = matched.length > 0 ? await batches.keep({ filter: fields, ids: matched.map((d) => d.id) }) : '';
    const confirm = batch ? html`<p class="muted">${fill(t.replay_counted_only, { count: matched.length })}</p>${actionButton(ctx, path('dead-letters/replay'), t.confirm_replay, html`<input type="hidden" name="batch" value="${batch}">`)}` : '';
    const body = html`<section><ul>${filterText}</ul><p id="dry-run-count" data-count="${matched.length}">${fill(t.replay_matching_count, { count: matched.length })}</p>${confirm}
<p><a class="button" href="${path('dead-letters')}?${query(fields)}">${t.back}</a></p></section>`;
    sendPage(res, ctx, t.replay_matching_title, body, { current: 'dead-letters' });
  });

  // The answer is the result page itself, not a redirect to one: its figures cannot come from a link.
  router.post(path('dead-letters/replay'), async (_req, res) => {
    const ctx = pageContext(res);
    const batch = await batches.take(formOf(res).get('batch') ?? '');
    if (!batch) throw new HttpError(409, 'replay_expired', ctx.t.replay_expired);
    let replayed = 0;
    for (const id of batch.ids) if (await deadLetters.replay(id, ctx.actor)) replayed += 1;
    await audit.record({ actor: ctx.actor, action: 'dead_letter.replay_matching', target: JSON.stringify(filterFrom(batch.filter)), detail: { count: replayed, counted: batch.ids.length } });
    const result = fill(ctx.t.replayed_count, { replayed, count: batch.ids.length, gone: batch.ids.length - replayed });
    sendPage(res, ctx, ctx.t.replay_matching_title, html`<p class="notice" role="status" id="replay-result">${result}</p><p><a class="button" href="${path('dead-letters')}">${ctx.t.back}</a></p>`, { current: 'dead-letters' });
  });
}
