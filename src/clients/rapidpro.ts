import type { AxiosInstance } from 'axios';
import { classifyStatus, type CallObserver } from './delivery-error';
import { observedRequest, outboundHttp } from './http-client';
import { parseRetryAfter } from './retry-after';

export interface RapidProClientOptions {
  baseUrl: string;
  token: string;
  timeoutMs: number;
  observe?: CallObserver;
}

/** RapidPro API v2: `Authorization: Token …` (a bad token is 403), 429 with Retry-After past the workspace quota. */
export class RapidProClient {
  private readonly http: AxiosInstance;

  constructor(private readonly opts: RapidProClientOptions) {
    this.http = outboundHttp({
      baseURL: `${opts.baseUrl}/api/v2`,
      timeoutMs: opts.timeoutMs,
      headers: { Authorization: `Token ${opts.token}`, 'Content-Type': 'application/json', Accept: 'application/json' },
    });
  }

  /**
   * The flow's type as `GET /flows.json` names it ("message", "background", "voice", "survey"), or null when the
   * workspace has no such flow (nyaruka/rapidpro: temba/api/v2/serializers.py, FlowReadSerializer).
   */
  async flowType(flow: string): Promise<string | null> {
    const what = 'the flow lookup';
    const res = await observedRequest(this.http, { method: 'get', url: '/flows.json', params: { uuid: flow } }, { service: 'RapidPro', what, observe: this.opts.observe });
    if (res.status < 200 || res.status >= 300) throw classifyStatus('RapidPro', res.status, what, parseRetryAfter(res.headers['retry-after']));
    const first = (res.data as { results?: Array<{ type?: unknown }> } | null)?.results?.[0];
    return typeof first?.type === 'string' ? first.type : null;
  }

  /**
   * Starts a flow for up to 100 URNs (and up to 100 contact UUIDs, `opts.contacts`) with the same params. `restart_participants` stays true: the same person
   * gets a later status too. `excludeActive` maps to mailroom's "in a flow" exclusion, which skips (never
   * defers) a contact waiting in any flow.
   */
  async startFlow(flow: string, urns: string[], params: Record<string, string>, opts: { excludeActive: boolean; contacts?: string[] }): Promise<void> {
    const contacts = opts.contacts ?? [];
    if (urns.length + contacts.length === 0 || urns.length > 100 || contacts.length > 100) throw new RangeError('a flow start takes 1 to 100 URNs or contacts');
    const what = 'the flow start';
    const res = await observedRequest(
      this.http,
      { method: 'post', url: '/flow_starts.json', data: { flow, urns, ...(contacts.length ? { contacts } : {}), params, restart_participants: true, exclude_active: opts.excludeActive } },
      { service: 'RapidPro', what, observe: this.opts.observe },
    );
    if (res.status >= 200 && res.status < 300) return;
    // 400 bodies name fields ({"urns": {"0": ["Invalid URN: …"]}}) and quote the URN: keep the field names only.
    const fields = res.data && typeof res.data === 'object' ? Object.keys(res.data as object).join(', ') : '';
    throw classifyStatus('RapidPro', res.status, what, parseRetryAfter(res.headers['retry-after']), fields ? `fields ${fields}` : '');
  }
}
