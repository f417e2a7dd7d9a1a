import axios, { type AxiosInstance, type AxiosRequestConfig, type AxiosResponse } from 'axios';
import { networkFailure, outcomeOf, type CallObserver } from './delivery-error';
import { requestMayHaveLeft, trackingAgents } from './outbound-connections';

export interface OutboundHttpOptions {
  baseURL?: string;
  timeoutMs: number;
  headers?: Record<string, string>;
  auth?: { username: string; password: string };
  /** How long a new connection (TCP, and TLS for https; not the DNS lookup) may take; at most 2/3 of `timeoutMs`. */
  connectTimeoutMs?: number;
}

/** A destination that has not let us in within this long is unreachable for now, not slow: retried later. */
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/**
 * Outbound HTTP as every client here wants it: statuses are returned, not thrown (the client classifies
 * them), redirects are not followed, the timeout covers the whole request and a new connection has a shorter one
 * of its own, connections are kept alive and say whether a failed request went out on an established one.
 */
export function outboundHttp(opts: OutboundHttpOptions): AxiosInstance {
  return axios.create({
    baseURL: opts.baseURL,
    auth: opts.auth,
    timeout: opts.timeoutMs,
    headers: opts.headers,
    validateStatus: () => true,
    maxRedirects: 0,
    // Shorter than the whole request's, so a connection not made is told by its own code, not by axios's timeout.
    ...trackingAgents(Math.min(opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, Math.floor((opts.timeoutMs * 2) / 3))),
  });
}

/**
 * One request, counted by status class; no answer at all becomes a transient DeliveryError naming only the code,
 * hinted `maybe_sent` only when the request may have reached the destination (requestMayHaveLeft).
 */
export async function observedRequest(
  client: AxiosInstance,
  request: AxiosRequestConfig,
  label: { service: string; what: string; observe?: CallObserver },
): Promise<AxiosResponse> {
  try {
    const res = await client.request(request);
    label.observe?.(outcomeOf(res.status));
    return res;
  } catch (err) {
    label.observe?.('network');
    throw networkFailure(label.service, label.what, err, requestMayHaveLeft(err));
  }
}
