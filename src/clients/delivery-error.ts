/**
 * How a failed call to another system should be handled:
 * - transient: timeouts, connection errors, 5xx, 429: retry with backoff (not before `retryAfterMs`);
 * - permanent: the content was refused (4xx): retrying cannot help, keep it as a dead letter;
 * - configuration: a 401, or a 403 on a call that names no record (a create, a search): our credentials
 *   or role are wrong for every job alike: pause the queue and say so loudly.
 * A 403 on one record is CanCan's AccessDenied for that record (out of the API user's scope, e.g. assigned
 * away): permanent for that job only, since every other record may be fine.
 * Messages name the system and the status, never the request's content.
 */
export type FailureKind = 'transient' | 'permanent' | 'configuration';

/**
 * What the destination said beyond the kind, where the caller must act on it rather than only retry or stop:
 * - gone: the addressee no longer exists (a push service's 404/410 for a subscription);
 * - wait: only this delivery must wait `retryAfterMs` (a push service's 429 is about one subscription, not the service);
 * - vapid_refused: a push service's 401/403 for one subscription (RFC 8292 §4: most often a subscription made under
 *   another VAPID public key); that device's alert is a dead letter, the queue goes on for every other device;
 * - refused: our own endpoint policy refused the destination (`reason`), so nothing was sent;
 * - maybe_sent: no answer came back after the request was written (a timeout, a reset): the destination may have
 *   acted on it. A message to a person is then never sent again (at most once);
 * - opted_out: the provider refused it because the person asked it to stop messages from us (Twilio 21610, Africa's
 *   Talking UserInBlacklist, WhatsApp 131050): the gateway records the opt-out so nothing else is sent to them either.
 */
export type FailureHint = { is: 'gone' } | { is: 'wait' } | { is: 'vapid_refused' } | { is: 'wrong_address' } | { is: 'refused'; reason: string } | { is: 'maybe_sent' } | { is: 'opted_out' };

export class DeliveryError extends Error {
  override readonly name: string = 'DeliveryError';
  constructor(
    readonly service: string,
    readonly kind: FailureKind,
    readonly status: number | null,
    message: string,
    readonly retryAfterMs: number | null = null,
    readonly hint: FailureHint | null = null,
  ) {
    super(message);
  }
}

/** What the failed call targeted: one existing record, or the service as a whole. */
export type CallTarget = 'record' | 'service';

export function classifyStatus(service: string, status: number, what: string, retryAfterMs: number | null, detail = '', target: CallTarget = 'service'): DeliveryError {
  if (status === 403 && target === 'record') {
    return new DeliveryError(service, 'permanent', status, `${service} refused access to the record on ${what} (403): it is outside the API user's scope`);
  }
  if (status === 401 || status === 403) {
    return new DeliveryError(service, 'configuration', status, `${service} refused our credentials or role (${status}) on ${what}`);
  }
  if (status === 429 || status >= 500) return new DeliveryError(service, 'transient', status, `${service} answered ${status} on ${what}`, retryAfterMs);
  return new DeliveryError(service, 'permanent', status, `${service} rejected ${what} (${status})${detail ? `: ${detail}` : ''}`);
}

/** A 403 on a call naming one record (classifyStatus's `record` target): that record is outside the API user's scope. */
export const isRecordOutOfScope = (err: unknown): boolean => err instanceof DeliveryError && err.status === 403 && err.kind === 'permanent';

/**
 * Axios errors carry the request (body and Authorization header): only the error code survives. `mayHaveLeft` says
 * whether the request went out on an established connection (src/clients/outbound-connections.ts): only then may
 * the destination have acted on it.
 */
export function networkFailure(service: string, what: string, err: unknown, mayHaveLeft = true): DeliveryError {
  const code = (err as { code?: string }).code ?? 'network error';
  const hint: FailureHint | null = !mayHaveLeft || NOT_CONNECTED.has(code) ? null : { is: 'maybe_sent' };
  return new DeliveryError(service, 'transient', null, `${service} did not answer ${what} (${code})`, null, hint);
}

/**
 * Runs a call that only reads (a lookup before a send): whatever happened to it, nothing was sent, so a timeout on it
 * is only a failed call and its "may have been sent" hint is dropped (the send after it has not begun).
 */
export async function readOnly<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof DeliveryError && err.hint?.is === 'maybe_sent') throw new DeliveryError(err.service, err.kind, err.status, err.message, err.retryAfterMs);
    throw err;
  }
}

/** Failures before a connection existed: nothing of the request can have reached the destination. */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ERR_INVALID_URL']);

/** How a call ended, for metrics: a status class, or "network" when nothing came back. */
export type CallOutcome = '2xx' | '3xx' | '4xx' | '5xx' | 'network';
export type CallObserver = (outcome: CallOutcome) => void;

export const outcomeOf = (status: number | null): CallOutcome => (status === null ? 'network' : (`${Math.floor(status / 100)}xx` as CallOutcome));
