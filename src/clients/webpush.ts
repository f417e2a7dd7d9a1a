import https from 'node:https';
import type { AxiosInstance } from 'axios';
import webpush from 'web-push';
import type { PushEndpointPolicy } from '../security/push-endpoint';
import type { PushSubscription } from '../store/push-subscriptions';
import { DeliveryError, outcomeOf, type CallObserver } from './delivery-error';
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

const PUSH_SERVICE = 'Push service';

/** What to check, by status: fixed words, never the endpoint or what the push service said. */
const VAPID_REFUSED: Readonly<Record<401 | 403, string>> = {
  401: 'the push service found no valid VAPID authorization for this subscription (401): check that VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY are one pair and VAPID_SUBJECT is a mailto: or https: address',
  403: 'the push service refused our VAPID signature for this subscription (403): it was most likely made under another VAPID public key (the device must enroll again); if every device fails so, check VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY and (Apple) VAPID_SUBJECT',
};

/**
 * The push service's answer as the DeliveryError the push worker acts on; null for a 2xx. 404/410: the
 * device is gone; 429: this delivery waits Retry-After; 5xx and no answer: transient (a Retry-After here
 * is not the whole service's, so it pauses nothing); 401/403: permanent for this subscription (FCM answers 403 to
 * a subscription made under another VAPID public key, RFC 8292 §4; a wrong key pair fails every device, each
 * on its own: a pause of the queue would hold every other device's alerts too); other 4xx: permanent.
 */
export function pushFailure({ status: s, retryAfterMs, refused }: PushResult): DeliveryError | null {
  if (refused) return new DeliveryError(PUSH_SERVICE, 'permanent', null, `the push endpoint was refused: it ${refused}`, null, { is: 'refused', reason: refused });
  if (s !== null && s >= 200 && s < 300) return null;
  if (s === 404 || s === 410) return new DeliveryError(PUSH_SERVICE, 'permanent', s, `the push subscription is gone (${s})`, null, { is: 'gone' });
  if (s === 429) return new DeliveryError(PUSH_SERVICE, 'transient', s, 'the push service answered 429', retryAfterMs, { is: 'wait' });
  if (s === null || s >= 500) return new DeliveryError(PUSH_SERVICE, 'transient', s, `the push service answered ${s ?? 'nothing'}`);
  if (s === 401 || s === 403) return new DeliveryError(PUSH_SERVICE, 'permanent', s, VAPID_REFUSED[s], null, { is: 'vapid_refused' });
  return new DeliveryError(PUSH_SERVICE, 'permanent', s, `the push service refused the notification (${s})`);
}

/**
 * Web push with web-push's request builder (encryption, VAPID JWT with exp under 24 h) sent by axios:
 * web-push's own sender speaks only HTTPS and hides Retry-After. `send` gives the raw answer
 * (`status: null` when the push service did not answer); `deliver` throws it as a DeliveryError.
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

  /** Sends, and throws every answer but a 2xx as a DeliveryError (see pushFailure). */
  async deliver(subscription: PushSubscription, payload: string, opts: PushOptions): Promise<void> {
    const failure = pushFailure(await this.send(subscription, payload, opts));
    if (failure) throw failure;
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
