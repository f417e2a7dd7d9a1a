import http from 'node:http';
import https from 'node:https';
import axios, { type AxiosInstance, type AxiosResponse } from 'axios';
import { ReferralTarget } from '../domain/case-mapping';
import { classifyStatus, DeliveryError, networkFailure } from './delivery-error';
import { parseRetryAfter } from './retry-after';

export interface PrimeroClientOptions {
  baseUrl: string;
  user: string;
  password: string;
  timeoutMs: number;
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

function classify(res: AxiosResponse, what: string): DeliveryError {
  const retryAfterMs = parseRetryAfter(res.headers['retry-after']);
  return classifyStatus('Primero', res.status, what, retryAfterMs, res.status < 500 ? describeErrors(res.data) : '');
}

/** A thin client for Primero API v2 with HTTP Basic auth: no login, no session, no CSRF. */
export class PrimeroClient {
  private readonly http: AxiosInstance;

  constructor(opts: PrimeroClientOptions) {
    this.http = axios.create({
      baseURL: `${opts.baseUrl}/api/v2`,
      auth: { username: opts.user, password: opts.password },
      timeout: opts.timeoutMs,
      headers: { Accept: 'application/json', 'Content-Type': 'application/json' },
      validateStatus: () => true,
      maxRedirects: 0,
      httpAgent: new http.Agent({ keepAlive: true }),
      httpsAgent: new https.Agent({ keepAlive: true }),
    });
  }

  private async call(method: 'get' | 'post', url: string, what: string, data?: unknown): Promise<AxiosResponse> {
    try {
      return await this.http.request({ method, url, data });
    } catch (err) {
      throw networkFailure('Primero', what, err);
    }
  }

  /** Creates a case with a client-chosen id; 'exists' when an earlier attempt already created it. */
  async createCase(data: Record<string, unknown>): Promise<'created' | 'exists'> {
    const res = await this.call('post', '/cases', 'the case create', { data });
    if (res.status >= 200 && res.status < 300) return 'created';
    if (res.status === 409) return 'exists';
    throw classify(res, 'the case create');
  }

  async getCaseIdDisplay(caseId: string): Promise<string | null> {
    const res = await this.call('get', `/cases/${encodeURIComponent(caseId)}`, 'the case read');
    if (res.status !== 200) throw classify(res, 'the case read');
    const display = (res.data as { data?: { case_id_display?: unknown } } | null)?.data?.case_id_display;
    return typeof display === 'string' ? display : null;
  }

  async listReferrals(caseId: string): Promise<PrimeroReferral[]> {
    const res = await this.call('get', `/cases/${encodeURIComponent(caseId)}/referrals`, 'the referral list');
    if (res.status !== 200) throw classify(res, 'the referral list');
    const list = (res.data as { data?: unknown } | null)?.data;
    return Array.isArray(list) ? (list as PrimeroReferral[]) : [];
  }

  /** Never sends `consent_overridden`: a referral without consent is Primero's to refuse, not ours to force. */
  async refer(caseId: string, target: ReferralTarget): Promise<void> {
    const res = await this.call('post', `/cases/${encodeURIComponent(caseId)}/referrals`, 'the referral', { data: { ...target } });
    if (res.status >= 200 && res.status < 300) return;
    throw classify(res, 'the referral');
  }
}
