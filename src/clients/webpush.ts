import https from 'node:https';
import type { AxiosInstance } from 'axios';
import webpush from 'web-push';
import type { PushEndpointPolicy } from '../security/push-endpoint';
import type { PushSubscription } from '../store/push-subscriptions';
import { outcomeOf, type CallObserver } from './delivery-error';
import { outboundHttp } from './http-client';
import { parseRetryAfter } from './retry-after';

export interface VapidKeys {
  subject: string;
  publicKey: string;
  privateKey: string;
}

export interface PushOptions {
  ttlSeconds: number;
  urgency: 'normal' | 'high';
  topic: string;
}

export interface PushResult {
  status: number | null;
  retryAfterMs: number | null;
  /** Set when the endpoint fails the endpoint policy: nothing was sent. */
  refused?: string;
}

/**
 * Web push with web-push's request builder (encryption, VAPID JWT with exp under 24 h) sent by axios:
 * web-push's own sender speaks only HTTPS and hides Retry-After. A status comes back for the caller to
 * classify; `status: null` means the push service did not answer.
 */
export class WebPushClient {
  private readonly http: AxiosInstance;
  /** For hosts not named in PUSH_ENDPOINT_HOSTS: the address is checked in the socket's own lookup (no DNS rebinding window). */
  private readonly guardedAgent: https.Agent;

  constructor(
    private readonly vapid: VapidKeys,
    timeoutMs: number,
    private readonly policy: PushEndpointPolicy,
    private readonly observe: CallObserver = () => undefined,
  ) {
    this.http = outboundHttp({ timeoutMs });
    // With HTTP(S)_PROXY set axios would tunnel through its own agent and guardedLookup would never run: push egress is direct.
    this.http.defaults.proxy = false;
    this.guardedAgent = new https.Agent({ keepAlive: true, lookup: policy.guardedLookup });
  }

  async send(subscription: PushSubscription, payload: string, opts: PushOptions): Promise<PushResult> {
    const verdict = await this.policy.check(subscription.endpoint);
    if (!verdict.ok && verdict.transient) {
      this.observe('network');
      return { status: null, retryAfterMs: null };
    }
    if (!verdict.ok) return { status: null, retryAfterMs: null, refused: verdict.reason };
    const details = webpush.generateRequestDetails(subscription, payload, {
      vapidDetails: this.vapid,
      TTL: opts.ttlSeconds,
      urgency: opts.urgency,
      topic: opts.topic,
      contentEncoding: 'aes128gcm',
    });
    try {
      const res = await this.http.post(details.endpoint, details.body, {
        headers: details.headers as Record<string, string>,
        ...(verdict.named ? {} : { httpsAgent: this.guardedAgent }),
      });
      this.observe(outcomeOf(res.status));
      return { status: res.status, retryAfterMs: parseRetryAfter(res.headers['retry-after']) };
    } catch (err) {
      if ((err as { code?: unknown }).code === 'EPUSHINTERNAL') return { status: null, retryAfterMs: null, refused: 'resolves to an internal address' };
      this.observe('network');
      return { status: null, retryAfterMs: null };
    }
  }
}
