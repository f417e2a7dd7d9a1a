import type { Request, Response, Router } from 'express';
import type { Overview, OverviewReader } from '../admin/overview-types';
import { pageContext } from './context';
import { html, when, type SafeHtml } from './html';
import { path, sendPage, type PageContext } from './layout';
import { CONSOLE_BASE } from './session';
import { fill } from './texts';

const minutesUntil = (iso: string | null): number => (iso ? Math.max(0, Math.ceil((Date.parse(iso) - Date.now()) / 60_000)) : 0);

function age(seconds: number | null, none: string): string {
  if (seconds === null) return none;
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 3600)} h`;
}

function figures(o: Overview, { t }: PageContext): SafeHtml {
  const figure = (label: string, field: string, value: number | string) => html`<div class="figure">${label}<b data-field="${field}">${value}</b></div>`;
  return html`<div class="figures">${figure(t.messages_received, 'messagesReceived', o.messagesReceived)}${figure(t.cases_created, 'casesCreated', o.casesCreated)}${figure(t.dead_letters, 'deadLetters', o.deadLetters.count)}
<div class="figure">${t.oldest_dead_letter}<b class="when" data-field="oldestDeadLetter">${when(o.deadLetters.oldestFailedAt, t.none)}</b></div></div>`;
}

function queues(o: Overview, { t }: PageContext): SafeHtml {
  const cell = (queue: string, key: 'waiting' | 'active' | 'delayed' | 'failed', value: number) => html`<td data-field="queue.${queue}.${key}">${value}</td>`;
  const rows = o.queues.map(
    (q) => html`<tr><td>${q.queue}</td>${cell(q.queue, 'waiting', q.waiting)}${cell(q.queue, 'active', q.active)}${cell(q.queue, 'delayed', q.delayed)}${cell(q.queue, 'failed', q.failed)}<td data-field="queue.${q.queue}.oldest">${age(q.oldestAgeSeconds, '–')}</td></tr>`,
  );
  return html`<section><h2>${t.queues}</h2><table><thead><tr><th>${t.queue}</th><th>${t.waiting}</th><th>${t.active}</th><th>${t.delayed}</th><th>${t.failed}</th><th>${t.oldest_waiting}</th></tr></thead><tbody>${rows}</tbody></table></section>`;
}

function destinations(o: Overview, { t }: PageContext): SafeHtml {
  const items = o.destinations.map((d) => {
    const state = t[`state_${d.state}`];
    const left = d.state === 'paused' && d.resumesAt ? html` · ${fill(t.resumes_in, { minutes: minutesUntil(d.resumesAt) })}` : '';
    return html`<li class="card" data-destination="${d.destination}"><b>${d.destination}</b>: <span class="state-${d.state}" data-field="destination.${d.destination}">${state}</span>${left}${d.reason ? html`<br><span class="muted">${d.reason}</span>` : ''}</li>`;
  });
  return html`<section><h2>${t.destinations}</h2>${items.length ? html`<ul class="items">${items}</ul>` : html`<p class="muted">${t.none}</p>`}</section>`;
}

/** The overview: figures and states only (OverviewReader never carries a person's data), refreshed by a small script. */
export function overviewRoutes(router: Router, overview: OverviewReader): void {
  router.get(path('overview.json'), async (_req, res) => {
    res.set({ 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' }).json(await overview.read());
  });
  const show = async (_req: Request, res: Response) => {
    const page = pageContext(res);
    const o = await overview.read();
    const { t } = page;
    const texts = html`data-text-state-healthy="${t.state_healthy}" data-text-state-retrying="${t.state_retrying}" data-text-state-paused="${t.state_paused}" data-text-resumes-in="${t.resumes_in}" data-text-none="${t.none}" data-text-not-updated="${t.not_updated}"`;
    const body = html`<div id="overview" data-source="${path('overview.json')}" data-generated="${o.generatedAt}" ${texts}>
<p class="problem" role="alert" data-field="stale" hidden></p>${figures(o, page)}${destinations(o, page)}${queues(o, page)}<p class="muted">${t.updated_at}: <span data-field="generatedAt">${when(o.generatedAt)}</span>. ${t.refresh_hint}</p></div>`;
    sendPage(res, page, t.nav_overview, body, { current: 'overview', script: 'overview.js' });
  };
  router.get(path('overview'), show);
  router.get(CONSOLE_BASE, show);
}
