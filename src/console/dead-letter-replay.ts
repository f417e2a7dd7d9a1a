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
    const { t } = ctx;
    const id = formOf(res).get('batch') ?? '';
    // A second click, or a re-post after a proxy gave up on the first: the walk under way is not doubled. The lease
    // comes before the read, so a walk never starts from the pending ids another walk has since settled.
    const lease = await batches.lease(id);
    if (!lease) throw (await batches.get(id)) ? new HttpError(409, 'replay_running', t.replay_running) : new HttpError(409, 'replay_expired', t.replay_expired);
    try {
      const batch = await batches.get(id);
      if (!batch) throw new HttpError(409, 'replay_expired', t.replay_expired);
      const outcome = await deadLetters.replayIds(batch.pending, ctx.actor, filterFrom(batch.filter), (dl) => batches.settle(id, dl));
      const failed = outcome.failed.length;
      if (failed === 0) await batches.end(id);
      const result = fill(t.replayed_count, { replayed: outcome.replayed, count: batch.pending.length, gone: outcome.gone });
      const held = outcome.notConfirmed.length ? html`<p class="notice" id="replay-not-confirmed">${fill(t.replay_not_confirmed, { count: outcome.notConfirmed.length })}</p>` : '';
      // The ones that could not be moved stay in the batch: the same confirmation again retries them, and only them.
      const retry = failed ? html`<p class="notice" role="alert" id="replay-failed">${fill(t.replay_failed, { failed })}</p>${actionButton(ctx, path('dead-letters/replay'), t.confirm_replay, html`<input type="hidden" name="batch" value="${id}">`)}` : '';
      res.status(failed ? 500 : 200);
      sendPage(res, ctx, t.replay_matching_title, html`<p class="notice" role="status" id="replay-result">${result}</p>${held}${retry}<p><a class="button" href="${path('dead-letters')}">${t.back}</a></p>`, { current: 'dead-letters' });
    } finally {
      await batches.release(id, lease);
    }
  });
}
