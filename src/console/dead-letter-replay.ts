import type { Router } from 'express';
import type { DeadLetters } from '../admin/dead-letters';
import { HttpError } from '../http/errors';
import { formOf, pageContext } from './context';
import { actionButton, filterFields, filterFrom, query } from './dead-letter-forms';
import { html } from './html';
import { path, sendPage } from './layout';
import type { ReplayBatches } from '../store/replay-batches';
import { fill } from './texts';

export interface ReplayMatchingDeps {
  deadLetters: DeadLetters;
  batches: ReplayBatches;
}

/**
 * Replaying a filtered set: first the dry run's count (a GET changes nothing but keeping what it counted), then a
 * POST that replays those counted and still dead letters, one by one through the service the JSON route uses.
 */
export function replayMatchingRoutes(router: Router, { deadLetters, batches }: ReplayMatchingDeps): void {
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
    const id = formOf(res).get('batch') ?? '';
    const batch = await batches.get(id);
    if (!batch) throw new HttpError(409, 'replay_expired', ctx.t.replay_expired);
    // Ended only once the set has been walked: a request cut short (a proxy timeout, a restart) is posted again
    // and finishes the rest, the ones already replayed being no longer dead letters.
    const { replayed, gone, failed } = await deadLetters.replayIds(batch.ids, ctx.actor, filterFrom(batch.filter));
    if (failed === 0) await batches.end(id);
    const result = fill(ctx.t.replayed_count, { replayed, count: batch.ids.length, gone: gone + failed });
    sendPage(res, ctx, ctx.t.replay_matching_title, html`<p class="notice" role="status" id="replay-result">${result}</p><p><a class="button" href="${path('dead-letters')}">${ctx.t.back}</a></p>`, { current: 'dead-letters' });
  });
}
