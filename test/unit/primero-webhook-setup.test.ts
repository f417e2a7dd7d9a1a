import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The README's Primero webhook command, checked against Primero's Webhook model (primeroIMS/primero
 * 4b95bf9): `db/migrate/20210123000001_create_webhooks.rb` (jsonb `events`, unique index on `url`, `auth_type`
 * `api_key`|`basic_auth`), `app/models/webhook.rb` (`validates :events, :url, :role_unique_id, presence: true`;
 * `webhooks_for` = `where('events @> :event', event: "case.#{action}".to_json)`).
 */
const readme = readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
const section = readme.slice(readme.indexOf('### Pointing Primero at the gateway'), readme.indexOf('### Dead letters'));

interface WebhookRow {
  url: string;
  events: unknown;
  authType: string | null;
  roleUniqueId: string | null;
}

/** The Ruby literals the README uses: 'text', %w[a b], ['a', 'b']. */
function rubyValue(src: string): unknown {
  const w = /^%w\[([^\]]*)\]$/.exec(src.trim());
  if (w) return w[1]!.trim().split(/\s+/);
  const list = /^\[(.*)\]$/.exec(src.trim());
  if (list) return list[1]!.split(',').map((x) => rubyValue(x));
  const str = /^'([^']*)'$/.exec(src.trim()) ?? /^"([^"]*)"$/.exec(src.trim());
  return str ? str[1] : undefined;
}

function arg(call: string, name: string): unknown {
  const m = new RegExp(`\\b${name}:\\s*(%w\\[[^\\]]*\\]|\\[[^\\]]*\\]|'[^']*'|"[^"]*")`).exec(call);
  return m ? rubyValue(m[1]!) : undefined;
}

/** Every webhook the documented commands leave in the table, one row per URL as the unique index demands. */
function webhooksFrom(text: string): WebhookRow[] {
  const rows = new Map<string, WebhookRow>();
  const calls = [...text.matchAll(/Webhook\.(create!?|find_or_initialize_by|find_or_create_by!?)\(([^\n]*)/g)];
  for (const [, method, rest] of calls) {
    const url = String(arg(rest!, 'url'));
    if (method!.startsWith('create') && rows.has(url)) throw new Error(`PG::UniqueViolation: a second webhook at ${url}`);
    rows.set(url, { url, events: arg(rest!, 'events'), authType: (arg(rest!, 'auth_type') as string) ?? null, roleUniqueId: (arg(rest!, 'role_unique_id') as string) ?? null });
  }
  return [...rows.values()];
}

/** Postgres jsonb `@>` for what `events` can hold: an array contains a string it lists; a string contains itself. */
const jsonbContains = (value: unknown, scalar: string): boolean => (Array.isArray(value) ? value.includes(scalar) : value === scalar);
const webhooksFor = (rows: WebhookRow[], event: string) => rows.filter((r) => jsonbContains(r.events, event));

describe("the README's Primero webhook setup", () => {
  const rows = webhooksFrom(section);

  it('creates exactly one webhook, at the gateway route, that Primero selects for both case events', () => {
    expect(rows).toHaveLength(1);
    const [hook] = rows;
    expect(hook!.url).toMatch(/^https:\/\/[^/]+\/webhooks\/primero$/);
    expect(webhooksFor(rows, 'case.create')).toEqual([hook]);
    expect(webhooksFor(rows, 'case.update')).toEqual([hook]);
    expect(webhooksFor(rows, 'incident.update')).toEqual([]);
  });

  it('sets what the model requires and what the gateway checks (x-api-key comes from auth_type api_key)', () => {
    const [hook] = rows;
    expect(Array.isArray(hook!.events)).toBe(true);
    expect(hook!.authType).toBe('api_key');
    expect(hook!.roleUniqueId).toBeTruthy();
    expect(section).toMatch(/auth_secret: '<PRIMERO_WEBHOOK_API_KEY>'/);
    expect(section).toMatch(/use_webhooks_for/);
  });

  it('would refuse the old two-webhook setup at one URL', () => {
    const old = "Webhook.create!(events: 'case.update', url: 'https://g/webhooks/primero')\nWebhook.create!(events: 'case.create', url: 'https://g/webhooks/primero')";
    expect(() => webhooksFrom(old)).toThrow('UniqueViolation');
  });

  it('names the Primero commit it was checked against', () => {
    expect(section).toMatch(/primeroIMS\/primero.*4b95bf9/);
  });
});
