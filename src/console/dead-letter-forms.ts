import type { DeadLetterFilter } from '../admin/dead-letters';
import { filterOf } from '../http/admin';
import { HttpError } from '../http/errors';
import { html, type SafeHtml } from './html';
import { csrfField, path, type PageContext } from './layout';

export const deadLetterPath = (id: string) => path(`dead-letters/${encodeURIComponent(id)}`);

const FILTER_FIELDS = ['queue', 'error', 'min_age_hours', 'max_age_hours'] as const;

/**
 * The filter fields a query sent (an empty field is no filter), as the JSON route reads them. A field given twice is
 * refused: dropped, the list, the count and the replay would cover more than the operator asked for.
 */
export function filterFields(get: (name: string) => unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of FILTER_FIELDS) {
    const v = get(name);
    if (v !== undefined && typeof v !== 'string') throw new HttpError(422, 'invalid_filter', `Give ${name} once, as one value.`);
    if (typeof v === 'string' && v.trim() !== '') out[name] = v.trim();
  }
  return out;
}

/** Enough of a failure reason to know what went wrong on a phone; the CLI and GET /admin/dead-letters/:id give it whole. */
const ERROR_SHOWN = 300;
export const shortError = (error: string): string => (error.length > ERROR_SHOWN ? `${error.slice(0, ERROR_SHOWN)}…` : error);

/** The same validation as GET /admin/dead-letters: a bad filter is a 422 naming the field. */
export const filterFrom = (fields: Record<string, string>): DeadLetterFilter => filterOf(fields);

export const query = (fields: Record<string, string>): string => new URLSearchParams(fields).toString();

/** Why the operator reveals or discards: required here (the JSON routes leave it optional), at most 200 characters. */
export function requiredReason(form: URLSearchParams): string {
  const reason = (form.get('reason') ?? '').trim();
  if (reason === '' || reason.length > 200) throw new HttpError(422, 'invalid_reason', 'Give a reason (at most 200 characters): it is kept in the audit trail.');
  return reason;
}

export function filterForm(ctx: PageContext, queues: readonly string[], fields: Record<string, string>): SafeHtml {
  const { t } = ctx;
  const options = queues.map((q) => html`<option value="${q}"${fields.queue === q ? html` selected` : ''}>${q}</option>`);
  return html`<section><h2>${t.filter}</h2><form method="get" action="${path('dead-letters')}">
<label for="f-queue">${t.queue}</label><select id="f-queue" name="queue"><option value="">${t.all_queues}</option>${options}</select>
<label for="f-error">${t.error_contains}</label><input id="f-error" name="error" maxlength="200" value="${fields.error ?? ''}">
<label for="f-min">${t.min_age_hours}</label><input id="f-min" name="min_age_hours" inputmode="decimal" value="${fields.min_age_hours ?? ''}">
<label for="f-max">${t.max_age_hours}</label><input id="f-max" name="max_age_hours" inputmode="decimal" value="${fields.max_age_hours ?? ''}">
<button type="submit">${t.apply}</button><a class="button" href="${path('dead-letters/replay')}?${query(fields)}">${t.replay_matching}</a></form></section>`;
}

/** A one-button POST form (replay, revoke), with the cross-site token. */
export function actionButton(ctx: PageContext, action: string, label: string, extra: SafeHtml = html``, danger = false): SafeHtml {
  return html`<form method="post" action="${action}">${csrfField(ctx)}${extra}<button type="submit"${danger ? html` class="danger"` : ''}>${label}</button></form>`;
}

/** A POST form that asks why (reveal, discard). */
export function reasonForm(ctx: PageContext, action: string, intro: string, label: string, danger: boolean): SafeHtml {
  const id = `reason-${action.split('/').pop()}`;
  return html`<form method="post" action="${action}"><p class="muted">${intro}</p>${csrfField(ctx)}<label for="${id}">${ctx.t.reason_label}</label>
<p class="muted" id="${id}-hint">${ctx.t.reason_hint}</p><input id="${id}" name="reason" required maxlength="200" aria-describedby="${id}-hint"><button type="submit"${danger ? html` class="danger"` : ''}>${label}</button></form>`;
}
