import { readFileSync } from 'node:fs';
import path from 'node:path';
import nock from 'nock';

/**
 * The one fake Primero of the integration tests: its answers as its own code renders them, a Primero that
 * accepts every case, one that keeps its records, and how Primero merges a PATCH into a record.
 *
 * Primero's answers as its own code renders them (shapes and sources: test/fixtures/primero/README.md), for
 * nock fakes: `.reply((uri) => primeroAnswer('forbidden', uri))`. `resource` is the request path, as in Primero.
 */
/** Where the test gateways' Primero lives (PRIMERO_URL in testConfig). */
export const PRIMERO = 'http://primero.test';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'primero');

const ANSWERS = {
  unauthorized: { status: 401, file: 'error-401-basic-auth.json', headers: { 'WWW-Authenticate': 'Basic realm="Primero"' } },
  forbidden: { status: 403, file: 'error-403-access-denied.json', headers: {} },
  conflict: { status: 409, file: 'error-409-conflict.json', headers: {} },
  invalidRecordJson: { status: 422, file: 'error-422-invalid-record-json.json', headers: {} },
  recordInvalid: { status: 422, file: 'error-422-record-invalid.json', headers: {} },
  configurationLock: { status: 503, file: 'error-503-configuration-lock.json', headers: { 'Retry-After': '60' } },
} as const;

export type PrimeroAnswer = keyof typeof ANSWERS;

export function primeroFixture(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path.join(FIXTURES, file), 'utf8')) as Record<string, unknown>;
}

export function primeroAnswer(kind: PrimeroAnswer, uri?: string, headers: Record<string, string> = {}): [number, Record<string, unknown>, Record<string, string>] {
  const { status, file, headers: own } = ANSWERS[kind];
  const body = primeroFixture(file);
  const errors = body.errors as Array<Record<string, unknown>> | undefined;
  if (uri && errors) for (const e of errors) e.resource = uri.split('?')[0];
  return [status, body, { 'Content-Type': 'application/json', ...own, ...headers }];
}

/** A Primero webhook body (fixture), with the record id and update time of the test's record. */
export function primeroWebhookBody(kind: 'full' | 'partial', recordId: string, lastUpdatedAt: string, over: Record<string, unknown> = {}): { data: Record<string, unknown> } {
  const { data } = primeroFixture(`webhook-case-update-${kind}.json`) as { data: Record<string, unknown> };
  return { data: { ...data, record_id: recordId, id: recordId, last_updated_at: lastUpdatedAt, ...over } };
}

/**
 * A Primero on nock that keeps the cases it is sent. Like Primero's `show` (app/controllers/api/v2/concerns/
 * record.rb with FieldSelectionService), a read returns only the `fields=` asked for, and a key the record
 * has no value for is absent, and so is a field the API user's role may not read (`unreadable`, as
 * PermittedFieldService drops it); a case in `forbidden` answers 403 AccessDenied. `reads` logs every read.
 */
export class RecordingPrimero {
  readonly records = new Map<string, Record<string, unknown>>();
  readonly forbidden = new Set<string>();
  readonly unreadable = new Map<string, string[]>();
  readonly reads: Array<{ id: string; fields: string[] | null; at: number }> = [];

  constructor(base: string, display: (n: number) => string = (n) => `cp-${n}`) {
    nock(base)
      .persist()
      .post('/api/v2/cases')
      .reply((uri, body) => {
        const data = (body as { data: Record<string, unknown> }).data;
        const id = String(data.id);
        if (this.records.has(id)) return primeroAnswer('conflict', uri);
        this.records.set(id, { ...data, case_id_display: display(this.records.size + 1), owned_by: 'sms_gateway', status: 'open', workflow: 'new', last_updated_at: new Date().toISOString() });
        return [204, ''];
      })
      .get(/^\/api\/v2\/cases\/[0-9a-f-]+(\?.*)?$/)
      .reply((uri) => {
        const url = new URL(uri, base);
        const id = url.pathname.split('/').pop()!;
        const fields = url.searchParams.get('fields')?.split(',') ?? null;
        this.reads.push({ id, fields, at: Date.now() });
        if (this.forbidden.has(id)) return primeroAnswer('forbidden', url.pathname);
        const record = this.records.get(id);
        if (!record) return [404, { errors: [{ status: 404, resource: url.pathname, detail: 'id', message: 'Not Found' }] }];
        const hidden = this.unreadable.get(id) ?? [];
        const readable = Object.entries(record).filter(([k]) => !hidden.includes(k) && (!fields || fields.includes(k)));
        return [200, { data: Object.fromEntries(readable) }];
      });
  }

  /** Changes a case as a caseworker would in Primero (a minute after its last change, unless `afterMs`); returns its new `last_updated_at`. */
  change(id: string, fields: Record<string, unknown>, afterMs = 60_000): string {
    const at = new Date(Date.parse(String(this.records.get(id)!.last_updated_at)) + afterMs).toISOString();
    this.records.set(id, { ...this.records.get(id)!, ...fields, last_updated_at: at });
    return at;
  }
}

/**
 * A Primero on nock that accepts every case (204) and reads back `display`; the returned list fills with
 * what Primero was sent, for the test to inspect. Only the network to loopback stays open.
 */
export function acceptingPrimero(display: string): Array<Record<string, unknown>> {
  const created: Array<Record<string, unknown>> = [];
  nock.disableNetConnect();
  nock.enableNetConnect(/127\.0\.0\.1|localhost/);
  nock(PRIMERO)
    .persist()
    .post('/api/v2/cases', (b: { data: Record<string, unknown> }) => {
      created.push(b.data);
      return true;
    })
    .reply(204)
    .get(/\/api\/v2\/cases\/.+/)
    .reply(200, { data: { case_id_display: display } });
  return created;
}

/**
 * How Primero applies a PATCH's `data` to a record (primeroIMS/primero app/services/record_merge_data_hash_service.rb,
 * behaviour re-stated here, not its code): objects merge key by key; arrays of objects (subforms) merge by
 * `unique_id` (a known id merges into its entry, a new one is appended, `_destroy: true` removes it, entries
 * without an id are kept); anything else, strings and string arrays included, is replaced.
 */
type Data = Record<string, unknown>;

const isObject = (v: unknown): v is Data => typeof v === 'object' && v !== null && !Array.isArray(v);
const isSubform = (v: unknown): v is Data[] => Array.isArray(v) && (v.length === 0 || isObject(v[0]));

export function primeroMerge(old: unknown, incoming: unknown): unknown {
  if (isObject(old) && isObject(incoming)) {
    const out: Data = { ...old };
    for (const [k, v] of Object.entries(incoming)) out[k] = k in old ? primeroMerge(old[k], v) : v;
    return out;
  }
  if (isSubform(old) && isSubform(incoming)) {
    const merged = old.map((entry) => {
      const match = entry.unique_id === undefined ? undefined : incoming.find((n) => n.unique_id === entry.unique_id);
      return match ? (primeroMerge(entry, match) as Data) : entry;
    });
    const added = incoming.filter((n) => !merged.some((e) => e.unique_id === n.unique_id));
    return [...merged, ...added].filter((e) => e._destroy !== true);
  }
  return incoming;
}
