import type { Response } from 'express';
import { html, type SafeHtml } from './html';
import { CONSOLE_BASE } from './session';
import type { ConsoleTexts, TextKey } from './texts';

/** What every page knows about the request it answers. */
export interface PageContext {
  t: ConsoleTexts;
  lang: string;
  actor: string;
  /** The session's cross-site request token; null for a Bearer caller (a header no other site can send). */
  csrf: string | null;
}

export type Section = 'overview' | 'dead-letters' | 'trace' | 'devices' | 'forget' | 'audit';

const SECTIONS: ReadonlyArray<[Section, TextKey]> = [
  ['overview', 'nav_overview'],
  ['dead-letters', 'nav_dead_letters'],
  ['trace', 'nav_trace'],
  ['devices', 'nav_devices'],
  ['forget', 'nav_forget'],
  ['audit', 'nav_audit'],
];

/** Strict: scripts and styles only from the console's own routes, no frames, forms only to itself. */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export const path = (section: string) => `${CONSOLE_BASE}/${section}`;

/** The hidden field a mutating form carries; nothing for a Bearer caller. */
export const csrfField = (ctx: PageContext): SafeHtml => html`${ctx.csrf === null ? '' : html`<input type="hidden" name="_csrf" value="${ctx.csrf}">`}`;

function navigation(ctx: PageContext, current: Section | null): SafeHtml {
  const links = SECTIONS.map(([section, key]) => html`<a href="${path(section)}"${current === section ? html` aria-current="page"` : ''}>${ctx.t[key]}</a>`);
  const logout = ctx.csrf === null ? '' : html`<form method="post" action="${path('logout')}">${csrfField(ctx)}<button type="submit">${ctx.t.log_out}</button></form>`;
  return html`<nav aria-label="${ctx.t.console}">${links}${logout}</nav>`;
}

export interface PageOptions {
  status?: number;
  current?: Section | null;
  script?: string;
  /** The log-in page has no navigation to show. */
  bare?: boolean;
}

/**
 * Sends one console page: never cached (a revealed payload or an enrollment link must not outlive its answer). The
 * referrer stays on this origin: with `no-referrer` a browser posts `Origin: null`, which the same-origin check refuses.
 */
export function sendPage(res: Response, ctx: Pick<PageContext, 't' | 'lang'> & Partial<PageContext>, title: string, body: SafeHtml, options: PageOptions = {}): void {
  const full = { actor: '', csrf: null, ...ctx } as PageContext;
  const page = html`<!doctype html><html lang="${ctx.lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${title} · ${ctx.t.console}</title><link rel="stylesheet" href="${path('console.css')}"><link rel="icon" href="data:,"></head><body>
<header><strong>${ctx.t.console}</strong>${options.bare ? '' : navigation(full, options.current ?? null)}</header>
<main><h1>${title}</h1>${body}</main>${options.script ? html`<script src="${path(options.script)}" defer></script>` : ''}</body></html>`;
  res
    .status(options.status ?? 200)
    .set({ 'Cache-Control': 'no-store', 'Content-Security-Policy': CSP, 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'same-origin', 'X-Frame-Options': 'DENY' })
    .type('html')
    .send(page.text);
}
