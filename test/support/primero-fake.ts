import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import nock from 'nock';

/**
 * The one fake Primero of the tests (the model checker keeps its own world model, test/chaos/model-check):
 * Primero's answers as its own code renders them, a Primero that accepts every case, one that keeps its
 * records and the referrals, flags, assigns and PATCHes made to them, and how Primero merges a PATCH.
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

type Data = Record<string, unknown>;

export function primeroFixture(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path.join(FIXTURES, file), 'utf8')) as Record<string, unknown>;
}

/**
 * One of Primero's answers as its own code renders it (shapes and sources: test/fixtures/primero/README.md), for
 * nock fakes: `.reply((uri) => primeroAnswer('forbidden', uri))`. `resource` is the request path, as in Primero.
 */
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

/** A call the recording Primero answered, with the record it named and the body it was sent. */
export interface PrimeroCall {
  route: 'patch' | 'referral' | 'flag' | 'assign';
  id: string;
  body: { data: Data };
}

const idOf = (uri: string) => uri.split('/')[4]!.split('?')[0]!;
const dataOf = (body: unknown) => (body as { data: Data }).data;

/**
 * A Primero on nock that keeps the cases it is sent. Like Primero's `show` (app/controllers/api/v2/concerns/
 * record.rb with FieldSelectionService), a read returns only the `fields=` asked for, and a key the record
 * has no value for is absent, and so is a field the API user's role may not read (`unreadable` for one record,
 * `unreadableFields` for all, as PermittedFieldService drops it); a case in `forbidden` answers 403 AccessDenied
 * to reads and updates. `reads` logs every read. The public fields below set how it behaves, test by test.
 */
export class RecordingPrimero {
  readonly records = new Map<string, Data>();
  readonly forbidden = new Set<string>();
  /** Cases deleted in Primero: a read or an update answers 404 Not Found (ActiveRecord::RecordNotFound), never an upsert. */
  readonly deleted = new Set<string>();
  readonly unreadable = new Map<string, string[]>();
  readonly unreadableFields = new Set<string>();
  /** Fields the API user's role may not write: a PATCH drops them and still answers 200 (Primero's params permit). */
  readonly unwritable = new Set<string>();
  /** Fields Primero does not permit on a create: a create naming one is refused with 422 naming the field. */
  readonly unpermitted = new Set<string>();
  readonly reads: Array<{ id: string; fields: string[] | null; at: number }> = [];
  /** Every case created, as sent. */
  readonly created: Data[] = [];
  /** Every create the gateway sent, answered or refused. */
  createCalls = 0;
  /** Every PATCH, referral, flag and assign posted, in order (`sent` picks one route). */
  readonly calls: PrimeroCall[] = [];
  /** Record ids of the PATCHes applied so far (`patches` lists those that arrived). */
  readonly applied: string[] = [];
  readonly referrals = new Map<string, Array<{ transitioned_to: string; status: string }>>();
  /** Flags per record, listed by GET …/flags as Primero lists them (message, removed). */
  readonly flags = new Map<string, Array<{ message: string; removed: boolean }>>();
  /** How long a record read takes (a slow read is what lets two merges overlap). */
  readDelayMs = 0;
  /** The next this many creates are refused with 422 (a permanent failure: a dead letter). */
  refuseCreates = 0;
  /** The next this many creates answer 500 and store nothing (a transient failure: the job is retried). */
  failCreates = 0;
  /** The next this many creates, and reads of a case, answer 403 AccessDenied (the role may not create or read cases). */
  forbiddenCreates = 0;
  forbiddenReads = 0;
  /** A referral of a case this answers true for is refused with 403 AccessDenied (the case is out of scope). */
  refusesReferral: (caseId: string) => boolean = () => false;
  /** The next this many PATCHes fail as a refused connection would (ECONNREFUSED): nothing reaches Primero. */
  patchConnectionsRefused = 0;
  /** Primero applies a PATCH only this long after it arrives, and answers then (0: at once). */
  patchCommitsAfterMs = 0;
  /** Primero commits a posted referral only this long after the POST, and answers only then (0: at once). */
  referralCommitsAfterMs = 0;
  /** Primero commits a posted flag at once and answers only this long after (0: at once). */
  flagAnswersAfterMs = 0;
  /** Primero commits a posted assign at once (the case's owned_by) and answers only this long after (0: at once). */
  assignAnswersAfterMs = 0;
  /**
   * Runs once a PATCH is applied, before Primero answers: an answer it returns (or resolves to) replaces Primero's (a
   * 504 after the commit, say). Primero answers only once it has settled.
   */
  afterPatchCommit: (caseId: string) => nock.ReplyFnResult | undefined | Promise<nock.ReplyFnResult | undefined> = () => undefined;
  /**
   * The next PATCH of `caseId` is applied, then `meanwhile` runs (what changes in Primero or the gateway before the
   * retry looks: awaited, so it is done before the gateway hears the answer) and `answer` replaces Primero's: a 504
   * after the commit, a 200 without the form. Once.
   */
  onNextPatchOf(caseId: string, answer: nock.ReplyFnResult, meanwhile: () => unknown = () => undefined): void {
    this.afterPatchCommit = async (id) => {
      if (id !== caseId) return undefined;
      this.afterPatchCommit = () => undefined;
      await meanwhile();
      return answer;
    };
  }

  /** Runs before a case is read: an answer it returns replaces Primero's. */
  private beforeRead: (caseId: string) => [number, Data] | undefined = () => undefined;
  /** The next read of `caseId` runs `meanwhile`, then answers `answer` instead of the record (a 429, say). Once. */
  onNextReadOf(caseId: string, answer: [number, Data], meanwhile: () => void = () => undefined): void {
    this.beforeRead = (id) => {
      if (id !== caseId) return undefined;
      this.beforeRead = () => undefined;
      meanwhile();
      return answer;
    };
  }

  /** Forgets the hooks onNextPatchOf and onNextReadOf set, used or not (a test's `finally`). */
  clearNextAnswers(): void {
    this.afterPatchCommit = () => undefined;
    this.beforeRead = () => undefined;
  }

  /** Runs when a referral is posted (and commits at once), before Primero answers; resolve to answer. */
  onRefer: (caseId: string) => Promise<void> = async () => undefined;

  constructor(base: string, private readonly display: (n: number) => string = (n) => `cp-${n}`) {
    const scope = nock(base).persist();
    this.cases(scope);
    this.transitions(scope);
  }

  /** Record ids of the PATCHes that arrived, and of the referrals, flags and assigns posted. */
  get patches(): string[] {
    return this.idsOf('patch');
  }
  get referralPosts(): string[] {
    return this.idsOf('referral');
  }
  get flagPosts(): string[] {
    return this.idsOf('flag');
  }
  get assignPosts(): string[] {
    return this.idsOf('assign');
  }

  /** The calls of one route, as `{ id, body }`. */
  sent(route: PrimeroCall['route']): Array<{ id: string; body: { data: Data } }> {
    return this.calls.filter((c) => c.route === route).map(({ id, body }) => ({ id, body }));
  }

  /** Changes a case as a caseworker would in Primero (a minute after its last change, unless `afterMs`); returns its new `last_updated_at`. */
  change(id: string, fields: Data, afterMs = 60_000): string {
    const at = new Date(Date.parse(String(this.records.get(id)!.last_updated_at)) + afterMs).toISOString();
    this.records.set(id, { ...this.records.get(id)!, ...fields, last_updated_at: at });
    return at;
  }

  private idsOf(route: PrimeroCall['route']): string[] {
    return this.calls.filter((c) => c.route === route).map((c) => c.id);
  }

  private hidden(id: string): (field: string) => boolean {
    const own = this.unreadable.get(id) ?? [];
    return (field) => own.includes(field) || this.unreadableFields.has(field);
  }

  private cases(scope: nock.Scope): void {
    scope
      .post('/api/v2/cases')
      .reply((uri, body) => this.create(uri, dataOf(body)))
      .get(/^\/api\/v2\/cases\/[0-9a-f-]+(\?.*)?$/)
      .reply((uri, _b, cb) => {
        const answer = this.read(uri);
        if (answer[0] !== 200 || this.readDelayMs === 0) return cb(null, answer);
        setTimeout(() => cb(null, answer), this.readDelayMs);
      })
      .patch(/^\/api\/v2\/cases\/[0-9a-f-]+$/)
      .reply((uri, body, cb) => {
        const id = idOf(uri);
        if (this.patchConnectionsRefused > 0 && this.patchConnectionsRefused--) return cb(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), [0]);
        if (this.forbidden.has(id)) return cb(null, primeroAnswer('forbidden', uri));
        if (this.deleted.has(id)) return cb(null, [404, { errors: [{ status: 404, resource: uri, detail: 'id', message: 'Not Found' }] }]);
        this.calls.push({ route: 'patch', id, body: body as { data: Data } });
        const commit = () => {
          const answer = this.update(id, dataOf(body));
          void Promise.resolve(this.afterPatchCommit(id)).then(
            (instead) => cb(null, instead ?? answer),
            (err: unknown) => cb(err instanceof Error ? err : new Error(String(err)), [0]),
          );
        };
        if (this.patchCommitsAfterMs === 0) return commit();
        setTimeout(commit, this.patchCommitsAfterMs);
      });
  }

  private create(uri: string, data: Data): nock.ReplyFnResult {
    const id = String(data.id);
    this.createCalls++;
    if (this.forbiddenCreates > 0 && this.forbiddenCreates--) return primeroAnswer('forbidden', uri);
    if (this.failCreates > 0 && this.failCreates--) return [500, { errors: [{ status: 500, resource: '/api/v2/cases', message: 'Internal Server Error' }] }];
    if (this.refuseCreates > 0 && this.refuseCreates--) return [422, { errors: [{ status: 422, resource: '/api/v2/cases', detail: 'age', message: ['is invalid'] }] }];
    const refused = Object.keys(data).find((k) => this.unpermitted.has(k));
    if (refused) return [422, { errors: [{ status: 422, resource: '/api/v2/cases', detail: refused, message: ['is not a permitted field'] }] }];
    // Primero's own rule: a second create with the same id is a 409 (app/controllers/api/v2/children_controller.rb).
    if (this.records.has(id)) return primeroAnswer('conflict', uri);
    this.created.push(data);
    this.records.set(id, { ...data, case_id_display: this.display(this.records.size + 1), owned_by: 'sms_gateway', status: 'open', workflow: 'new', last_updated_at: new Date().toISOString() });
    return [204, ''];
  }

  private read(uri: string): [number, Data] | [number, Data, Record<string, string>] {
    const url = new URL(uri, 'http://primero');
    const id = url.pathname.split('/').pop()!;
    const fields = url.searchParams.get('fields')?.split(',') ?? null;
    this.reads.push({ id, fields, at: Date.now() });
    const instead = this.beforeRead(id);
    if (instead) return instead;
    if (this.forbidden.has(id) || (this.forbiddenReads > 0 && this.forbiddenReads--)) return primeroAnswer('forbidden', url.pathname);
    const record = this.deleted.has(id) ? undefined : this.records.get(id);
    if (!record) return [404, { errors: [{ status: 404, resource: url.pathname, detail: 'id', message: 'Not Found' }] }];
    const hidden = this.hidden(id);
    return [200, { data: Object.fromEntries(Object.entries(record).filter(([k]) => !hidden(k) && (!fields || fields.includes(k)))) }];
  }

  private update(id: string, data: Data): [number, Data] {
    const before = this.records.get(id) ?? {};
    const permitted = Object.fromEntries(Object.entries(data).filter(([k]) => !this.unwritable.has(k)));
    const after = primeroMerge(before, permitted) as Data;
    this.records.set(id, after);
    this.applied.push(id);
    // As Primero answers (app/views/api/v2/records/update.json.jbuilder): the id and the readable fields this save changed.
    const hidden = this.hidden(id);
    const changed = Object.keys(after).filter((k) => !hidden(k) && JSON.stringify(after[k]) !== JSON.stringify(before[k]));
    return [200, { data: { id, ...Object.fromEntries(changed.map((k) => [k, after[k]])) } }];
  }

  private transitions(scope: nock.Scope): void {
    scope
      .get(/^\/api\/v2\/cases\/[0-9a-f-]+\/referrals$/)
      .reply((uri) => [200, { data: this.referrals.get(idOf(uri)) ?? [] }])
      .post(/^\/api\/v2\/cases\/[0-9a-f-]+\/referrals$/)
      .reply((uri, body, cb) => (this.refusesReferral(idOf(uri)) ? cb(null, primeroAnswer('forbidden', uri)) : this.refer(idOf(uri), body as { data: Data }, cb)))
      // Shape: primeroIMS/primero app/controllers/api/v2/docs/flags/get.md.
      .get(/^\/api\/v2\/cases\/[0-9a-f-]+\/flags$/)
      .reply((uri) => [200, { data: (this.flags.get(idOf(uri)) ?? []).map((f) => ({ record_id: idOf(uri), record_type: 'Child', flagged_by: 'gateway', ...f })) }])
      .post(/^\/api\/v2\/cases\/[0-9a-f-]+\/flags$/)
      .reply((uri, body, cb) => {
        const id = idOf(uri);
        this.calls.push({ route: 'flag', id, body: body as { data: Data } });
        this.flags.set(id, [...(this.flags.get(id) ?? []), { message: String(dataOf(body).message), removed: false }]);
        setTimeout(() => cb(null, [200, { data: { id: this.flagPosts.length } }]), this.flagAnswersAfterMs);
      })
      // Shape: primeroIMS/primero app/models/assign.rb: the recipient owns the case at once; the transition is `done`.
      .post(/^\/api\/v2\/cases\/[0-9a-f-]+\/assigns$/)
      .reply((uri, body, cb) => {
        const id = idOf(uri);
        this.calls.push({ route: 'assign', id, body: body as { data: Data } });
        this.records.set(id, { ...this.records.get(id), owned_by: dataOf(body).transitioned_to });
        setTimeout(() => cb(null, [200, { data: { id: randomUUID(), type: 'Assign', status: 'done' } }]), this.assignAnswersAfterMs);
      });
  }

  private refer(id: string, body: { data: Data }, cb: (err: NodeJS.ErrnoException | null, result: nock.ReplyFnResult) => void): void {
    this.calls.push({ route: 'referral', id, body });
    const commit = () => this.referrals.set(id, [...(this.referrals.get(id) ?? []), { transitioned_to: String(body.data.transitioned_to), status: 'in_progress' }]);
    const answer: nock.ReplyFnResult = [200, { data: { id: randomUUID(), status: 'in_progress' } }];
    if (this.referralCommitsAfterMs > 0) {
      setTimeout(() => {
        commit();
        cb(null, answer);
      }, this.referralCommitsAfterMs);
      return;
    }
    commit();
    this.onRefer(id).then(
      () => cb(null, answer),
      () => cb(null, [200, {}]),
    );
  }
}

/**
 * A Primero on nock that accepts every case (204, with the gateway's credentials) and reads back `display`; the
 * returned list fills with what Primero was sent, for the test to inspect. Only the network to loopback stays open.
 */
export function acceptingPrimero(display: string): Array<Record<string, unknown>> {
  const created: Data[] = [];
  nock.disableNetConnect();
  nock.enableNetConnect(/127\.0\.0\.1|localhost/);
  nock(PRIMERO)
    .persist()
    .post('/api/v2/cases', (b: { data: Data }) => {
      created.push(b.data);
      return true;
    })
    .reply(204)
    // A record's flags and referrals are lists (none yet), as Primero answers them.
    .get(/\/api\/v2\/cases\/[^/?]+\/(flags|referrals)(\?.*)?$/)
    .reply(200, { data: [] })
    .get(/\/api\/v2\/cases\/.+/)
    .reply(200, { data: { case_id_display: display } });
  return created;
}

/**
 * Like `acceptingPrimero`, for one create (with the gateway's credentials) only, which is all a create costs:
 * `scope.isDone()` once it was made; `created` fills with what Primero was sent.
 */
export function primeroAcceptsOnce(): { scope: nock.Scope; created: Data[] } {
  const created: Data[] = [];
  const scope = nock(PRIMERO)
    .post('/api/v2/cases', (b: { data: Data }) => {
      created.push(b.data);
      return true;
    })
    .basicAuth({ user: 'sms_gateway', pass: 'secret-password' })
    .reply(204);
  return { scope, created };
}

/**
 * How Primero applies a PATCH's `data` to a record (primeroIMS/primero app/services/record_merge_data_hash_service.rb,
 * behaviour re-stated here, not its code): objects merge key by key; arrays of objects (subforms) merge by
 * `unique_id` (a known id merges into its entry, a new one is appended, `_destroy: true` removes it, entries
 * without an id are kept); anything else, strings and string arrays included, is replaced.
 */
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
