/** Markup that is already safe: only `html` and `trustedSvg` make one, so every other value passed in is escaped. */
export class SafeHtml {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

export const escapeHtml = (value: string): string => value.replace(/[&<>"'`]/g, (c) => ESCAPES[c]!);

type Interpolated = SafeHtml | string | number | boolean | null | undefined | ReadonlyArray<Interpolated>;

function render(value: Interpolated): string {
  if (value instanceof SafeHtml) return value.text;
  if (Array.isArray(value)) return value.map(render).join('');
  if (value === null || value === undefined || value === false) return '';
  return escapeHtml(String(value));
}

/** The console's one template: every interpolation is escaped unless it is itself `html` (attributes are always quoted). */
export function html(strings: TemplateStringsArray, ...values: Interpolated[]): SafeHtml {
  let out = strings[0]!;
  values.forEach((v, i) => {
    out += render(v) + strings[i + 1]!;
  });
  return new SafeHtml(out);
}

/** An SVG the server drew itself (the QR code library's output, from a URL it encoded): markup, not text. */
export const trustedSvg = (svg: string): SafeHtml => new SafeHtml(svg.replace(/<\?xml[^>]*>/, ''));

/** A time as an operator reads it on a small screen (UTC, to the second), the exact instant kept in the attribute. */
export const when = (iso: string | null | undefined, none = '–'): SafeHtml => (iso ? html`<time datetime="${iso}">${iso.replace('T', ' ').slice(0, 19)} UTC</time>` : html`${none}`);
