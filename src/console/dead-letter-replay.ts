import type { Router } from 'express';
import type { DeadLetters } from '../admin/dead-letters';
import { formOf, pageContext } from './context';
import { actionButton, filterFields, filterFrom, query } from './dead-letter-forms';
import { html } from './html';
import { path, sendPage } from './layout';
import { fill } from './texts';

/** Replaying a filtered set: first the dry run's count (a GET changes nothing), then a POST that replays them. */
export function replayMatchingRoutes(router: Router, deadLetters: DeadLetters): void {
  router.get(path('dead-letters/replay'), async (req, res) => {
    const ctx = pageContext(res);
    const fields = filterFields((name) => req.query[name]);
    const { matched } = await deadLetters.replayMatching(filterFrom(fields), ctx.actor, true);
    const { t } = ctx;
    const hidden = Object.entries(fields).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`);
    const filterText = Object.entries(fields).map(([name, value]) => html`<li>${name}: ${value}</li>`);
    const confirm = matched.length > 0 ? actionButton(ctx, path('dead-letters/replay'), t.confirm_replay, html`${hidden}`) : '';
    const body = html`<section><ul>${filterText}</ul><p id="dry-run-count" data-count="${matched.length}">${fill(t.replay_matching_count, { count: matched.length })}</p>${confirm}
<p><a class="button" href="${path('dead-letters')}?${query(fields)}">${t.back}</a></p></section>`;
    sendPage(res, ctx, t.replay_matching_title, body, { current: 'dead-letters' });
  });

  router.post(path('dead-letters/replay'), async (_req, res) => {
    const form = formOf(res);
    const { matched } = await deadLetters.replayMatching(filterFrom(filterFields((name) => form.get(name))), pageContext(res).actor, false);
    res.redirect(303, `${path('dead-letters')}?done=replayed_count&count=${matched.length}`);
  });
}
