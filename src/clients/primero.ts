import type { AxiosInstance, AxiosResponse } from 'axios';
import { ReferralTarget } from '../domain/case-mapping';
import { snapshotFieldNames } from '../domain/record-events';
import { classifyStatus, DeliveryError, type CallObserver, type CallTarget } from './delivery-error';
import { observedRequest, outboundHttp } from './http-client';
import { parseRetryAfter } from './retry-after';

export interface PrimeroClientOptions {
  baseUrl: string;
  user: string;
  password: string;
  timeoutMs: number;
  observe?: CallObserver;
}

export type RecordType = 'case' | 'incident';
const PATHS: Record<RecordType, string> = { case: 'cases', incident: 'incidents' };

/** One of a record's flags, as `GET /api/v2/:recordType/:id/flags` lists them (primeroIMS/primero app/controllers/api/v2/docs/flags/get.md). */
export interface PrimeroFlag {
  message?: string;
  removed?: boolean;
}

export interface PrimeroReferral {
  transitioned_to?: string;
  status?: string;
}

type PrimeroErrorBody = { errors?: Array<{ status?: number; detail?: unknown; message?: unknown }> };

/**
 * Primero's 422 bodies name fields (`detail`) and validation keys (`message`), never values; only those
 * are kept, so a dead letter says what was wrong without repeating what the child wrote.
 */
function describeErrors(body: unknown): string {
  const errors = (body as PrimeroErrorBody | null)?.errors;
  if (!Array.isArray(errors)) return '';
  const safe = (v: unknown): string =>
    (Array.isArray(v) ? v : [v])
      .filter((x): x is string => typeof x === 'string' && x.length < 120)
      .join(', ');
  return errors
    .map((e) => [safe(e.detail), safe(e.message)].filter(Boolean).join(': '))
    .filter(Boolean)
    .join('; ');
}

/**
 * `target` is the evidence a 403 is judged by: on a call naming one record it is that record's access
 * (CanCan::AccessDenied), on a create or a search it is the account's role. Before Primero's answers, what only a
 * wrong address gives: the client follows no redirect, so a 3xx (http for https,
 * a login page in front) and a 404 on a route every Primero has (a call naming no record) are PRIMERO_URL being
 * wrong, for every message alike: the queue pauses rather than each report becoming its own dead letter. A 408 (a
 * proxy's request timeout) is worth a retry.
 */
function classify(res: AxiosResponse, what: string, target: CallTarget): DeliveryError {
  const retryAfterMs = parseRetryAfter(res.headers['retry-after']);
  const wrongAddress = { is: 'wrong_address' } as const;
  if (res.status >= 300 && res.status < 400) return new DeliveryError('Primero', 'configuration', res.status, `Primero answered ${what} with a redirect (${res.status}): PRIMERO_URL is not the API's own address`, null, wrongAddress);
  if (res.status === 404 && target === 'service') return new DeliveryError('Primero', 'configuration', res.status, `Primero has no route for ${what} (404): PRIMERO_URL is not the API's own address`, null, wrongAddress);
  if (res.status === 408) return new DeliveryError('Primero', 'transient', res.status, `Primero answered ${what} with 408 (a request timeout)`, retryAfterMs);
  return classifyStatus('Primero', res.status, what, retryAfterMs, res.status < 500 ? describeErrors(res.data) : '', target);
}

/**
 * Whether a 2xx is Primero's own answer: its updates and transitions (flags, assigns, referrals) always render a
 * `data` object (records/update.json.jbuilder, transitions/_transition.json.jbuilder). A 2xx without one is a page
 * from something in front of Primero: taken for done, the step would be skipped for good; it is retried instead.
 */
function primeroAnswered(res: AxiosResponse, what: string): boolean {
  if (res.status < 200 || res.status >= 300) return false;
  const data = (res.data as { data?: unknown } | null)?.data;
  if (typeof data === 'object' && data !== null) return true;
  throw new DeliveryError('Primero', 'transient', res.status, `Primero answered ${what} ${res.status} without its data: not Primero's own answer`);
}

/** A list Primero answered 200: its `data` array, or (a page from something in front of it) a failure to retry. */
function listOf<T>(res: AxiosResponse, what: string): T[] {
  const list = (res.data as { data?: unknown } | null)?.data;
  if (Array.isArray(list)) return list as T[];
  throw new DeliveryError('Primero', 'transient', res.status, `Primero answered ${what} ${res.status} without its list: not Primero's own answer`);
}

/** A create with our own id is answered 204, empty (concerns/record.rb `create`); a 2xx with a body says it is that record. */
function isOwnCreate(res: AxiosResponse, id: unknown): boolean {
  if (res.status === 204) return true;
  const data = (res.data as { data?: { id?: unknown } } | null)?.data;
  return res.status >= 200 && res.status < 300 && typeof data === 'object' && data !== null && data.id === id;
}

/** A thin client for Primero API v2 with HTTP Basic auth: no login, no session, no CSRF. */
export class PrimeroClient {
  private readonly http: AxiosInstance;

  constructor(private readonly opts: PrimeroClientOptions) {
    this.http = outboundHttp({
      baseURL: `${opts.baseUrl}/api/v2`,
      auth: { username: opts.user, password: opts.password },
      timeoutMs: opts.timeoutMs,
      headers: { Accept: 'application/json', 'Content-Type': 'application/json' },
    });
  }

  private call(method: 'get' | 'post' | 'patch', url: string, what: string, data?: unknown): Promise<AxiosResponse> {
    return observedRequest(this.http, { method, url, data }, { service: 'Primero', what, observe: this.opts.observe });
  }

  /** Creates a record with a client-chosen id; 'exists' when an earlier attempt already created it. */
  async createRecord(type: RecordType, data: Record<string, unknown>): Promise<'created' | 'exists'> {
    const what = `the ${type} create`;
    // Checked before anything is sent: without our id Primero makes a new record on every retry.
    if (typeof data.id !== 'string' || data.id === '') throw new Error('a create needs the gateway-chosen id');
    const res = await this.call('post', `/${PATHS[type]}`, what, { data });
    if (isOwnCreate(res, data.id)) return 'created';
    // Any other 2xx is not Primero's answer (a proxy's or a captive portal's page): taken for "created", the job would
    // end and the report be lost; retried, the create either lands or meets its own 409.
    if (res.status >= 200 && res.status < 300) throw new DeliveryError('Primero', 'transient', res.status, `Primero answered ${what} ${res.status} without the record: not Primero's own answer`);
    if (res.status === 409) return 'exists';
    throw classify(res, what, 'service');
  }

  /**
   * One page of the record's history, newest first: the controller (app/controllers/api/v2/record_histories_controller.rb,
   * the role needs `change_log` on the record) paginates `filter_histories`, which with no filters (none are sent) is
   * `ordered_histories`, `record_histories.order(datetime: :desc)` in SQL (app/models/concerns/historical.rb). Pages
   * are offsets, not a cursor: a save between two page reads shifts every row down one, so the next page repeats the
   * last entry of the one before, and the new save is on no page read. Neither misleads lastNoteChange: a repeated
   * entry gives the same answer, and a save after the record was read is not what left the words it holds. Not
   * re-sorted here: the view writes `datetime` to the second, and two saves in one second would lose Primero's order.
   * Entries as the index view writes them: user_name, datetime, action and record_changes, a list of
   * `{ field: { from, to } }` holding whole values.
   */
  async recordHistoryPage(type: RecordType, id: string, page: number, per: number): Promise<{ entries: unknown[]; total: number }> {
    const what = `the ${type} history read`;
    const res = await this.call('get', `/${PATHS[type]}/${encodeURIComponent(id)}/record_history?page=${page}&per=${per}`, what);
    if (res.status !== 200) throw classify(res, what, 'record');
    const body = res.data as { data?: unknown; metadata?: { total?: unknown } } | null;
    return { entries: Array.isArray(body?.data) ? body.data : [], total: typeof body?.metadata?.total === 'number' ? body.metadata.total : 0 };
  }

  /**
   * The record's data as this API user may read it. Callers take what they need and log none of it. A field absent
   * is one the record has no value for or the role may not read (app/views/api/v2/records/_record.json.jbuilder
   * renders `data.compact`, selected and permitted). A 200 without a `data` object is not Primero's answer (a proxy's
   * page, say): taken for an empty record it would read as "the note is not there", so it is a transient failure.
   */
  async getRecord(type: RecordType, id: string, fields?: string[]): Promise<Record<string, unknown>> {
    const what = `the ${type} read`;
    const query = fields ? `?${new URLSearchParams({ fields: fields.join(',') }).toString()}` : '';
    const res = await this.call('get', `/${PATHS[type]}/${encodeURIComponent(id)}${query}`, what);
    if (res.status !== 200) throw classify(res, what, 'record');
    const data = (res.data as { data?: unknown } | null)?.data;
    if (!data || typeof data !== 'object' || Array.isArray(data)) throw new DeliveryError('Primero', 'transient', res.status, `Primero answered ${res.status} without the record on ${what}`);
    return data as Record<string, unknown>;
  }

  /**
   * Answers Primero's `data`: the record's id and only the fields this save changed that the role may read
   * (app/views/api/v2/records/update.json.jbuilder, `select_updated_fields`). Fields the role may not write are
   * dropped without an error, so a field absent here was either unchanged or not stored.
   */
  async updateRecord(type: RecordType, id: string, data: Record<string, unknown>): Promise<Record<string, unknown>> {
    const what = `the ${type} update`;
    const res = await this.call('patch', `/${PATHS[type]}/${encodeURIComponent(id)}`, what, { data });
    if (!primeroAnswered(res, what)) throw classify(res, what, 'record');
    return (res.data as { data: Record<string, unknown> }).data;
  }

  async flag(type: RecordType, id: string, message: string, date: string): Promise<void> {
    const what = `the ${type} flag`;
    const res = await this.call('post', `/${PATHS[type]}/${encodeURIComponent(id)}/flags`, what, { data: { date, message } });
    if (primeroAnswered(res, what)) return;
    throw classify(res, what, 'record');
  }

  async listFlags(type: RecordType, id: string): Promise<PrimeroFlag[]> {
    const what = `the ${type} flag list`;
    const res = await this.call('get', `/${PATHS[type]}/${encodeURIComponent(id)}/flags`, what);
    if (res.status !== 200) throw classify(res, what, 'record');
    // Read before a flag is posted again: a page taken for "no flags" would flag the record twice.
    return listOf<PrimeroFlag>(res, what);
  }

  /** Assign makes the user the owner and Primero notifies them; unlike a referral it needs no consent. */
  async assign(caseId: string, userName: string, notes: string): Promise<void> {
    const res = await this.call('post', `/cases/${encodeURIComponent(caseId)}/assigns`, 'the assignment', { data: { transitioned_to: userName, notes } });
    if (primeroAnswered(res, 'the assignment')) return;
    throw classify(res, 'the assignment', 'record');
  }

  /** Records of `type` changed in [from, to], oldest first, with only the fields change detection needs. */
  async listChanged(type: RecordType, from: string, to: string, page: number, per: number): Promise<Array<Record<string, unknown>>> {
    const what = `the changed-${PATHS[type]} poll`;
    const params = new URLSearchParams({
      last_updated_at: `${from}..${to}`,
      order_by: 'last_updated_at',
      order: 'asc',
      page: String(page),
      per: String(per),
      fields: snapshotFieldNames(type).join(','),
    });
    const res = await this.call('get', `/${PATHS[type]}?${params.toString()}`, what);
    if (res.status !== 200) throw classify(res, what, 'service');
    // A failed search is still `data: []` (search_records rescues into an empty list); no list at all is not Primero.
    return listOf<Record<string, unknown>>(res, what);
  }

  async listReferrals(caseId: string): Promise<PrimeroReferral[]> {
    const res = await this.call('get', `/cases/${encodeURIComponent(caseId)}/referrals`, 'the referral list');
    if (res.status !== 200) throw classify(res, 'the referral list', 'record');
    // Read before a referral is posted again: a page taken for "none" would refer the case twice.
    return listOf<PrimeroReferral>(res, 'the referral list');
  }

  /** Never sends `consent_overridden`: a referral without consent is Primero's to refuse, not ours to force. */
  async refer(caseId: string, target: ReferralTarget): Promise<void> {
    const res = await this.call('post', `/cases/${encodeURIComponent(caseId)}/referrals`, 'the referral', { data: { ...target } });
    if (primeroAnswered(res, 'the referral')) return;
    throw classify(res, 'the referral', 'record');
  }
}
