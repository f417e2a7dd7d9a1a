import http from 'node:http';
import https from 'node:https';
import axios, { type AxiosInstance, type AxiosRequestConfig, type AxiosResponse } from 'axios';
import { networkFailure, outcomeOf, type CallObserver } from './delivery-error';

export interface OutboundHttpOptions {
  baseURL?: string;
  timeoutMs: number;
  headers?: Record<string, string>;
  auth?: { username: string; password: string };
}

/**
 * Outbound HTTP as every client here wants it: statuses are returned, not thrown (the client classifies
 * them), redirects are not followed, the timeout covers the whole request, connections are kept alive.
 */
export function outboundHttp(opts: OutboundHttpOptions): AxiosInstance {
  return axios.create({
    baseURL: opts.baseURL,
    auth: opts.auth,
    timeout: opts.timeoutMs,
    headers: opts.headers,
    validateStatus: () => true,
    maxRedirects: 0,
    httpAgent: new http.Agent({ keepAlive: true }),
    httpsAgent: new https.Agent({ keepAlive: true }),
  });
}

/** One request, counted by status class; no answer at all becomes a transient DeliveryError naming only the code. */
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
    throw networkFailure(label.service, label.what, err);
  }
}
