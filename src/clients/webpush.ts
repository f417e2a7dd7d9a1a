import type { AxiosInstance } from 'axios';
import webpush from 'web-push';
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
}

/**
 * Web push with web-push's request builder (encryption, VAPID JWT with exp under 24 h) sent by axios:
 * web-push's own sender speaks only HTTPS and hides Retry-After. A status comes back for the caller to
 * classify; `status: null` means the push service did not answer.
 */
export class WebPushClient {
  private readonly http: AxiosInstance;

  constructor(
    private readonly vapid: VapidKeys,
    timeoutMs: number,
    private readonly observe: CallObserver = () => undefined,
  ) {
    this.http = outboundHttp({ timeoutMs });
  }

  async send(subscription: PushSubscription, payload: string, opts: PushOptions): Promise<PushResult> {
    const details = webpush.generateRequestDetails(subscription, payload, {
      vapidDetails: this.vapid,
      TTL: opts.ttlSeconds,
      urgency: opts.urgency,
      topic: opts.topic,
      contentEncoding: 'aes128gcm',
    });
    try {
      const res = await this.http.post(details.endpoint, details.body, { headers: details.headers as Record<string, string> });
      this.observe(outcomeOf(res.status));
      return { status: res.status, retryAfterMs: parseRetryAfter(res.headers['retry-after']) };
    } catch {
      this.observe('network');
      return { status: null, retryAfterMs: null };
    }
  }
}
