import { classifyStatus, DeliveryError } from '../../clients/delivery-error';

/** A refusal from the Graph API, with Meta's own error code (`error.code`) when the answer carried one. */
export class WhatsAppRefusal extends DeliveryError {
  constructor(
    base: DeliveryError,
    readonly metaCode: number | null,
  ) {
    super(base.service, base.kind, base.status, base.message, base.retryAfterMs, base.hint);
  }
}

/** Meta's code for a free-form message outside the 24-hour window ("re-engagement message"). */
export const OUTSIDE_WINDOW = 131047;
/** The person chose, in WhatsApp, to stop messages from this business. */
const OPTED_OUT = 131050;

/*
 * Meta advises building on `error.code`, not on the HTTP status or the titles (developers.facebook.com
 * documentation/business-messaging/whatsapp/support/error-codes). Throttling codes as courier retries them
 * (nyaruka/courier handlers/meta/whatsapp/api.go, WACThrottlingErrorCodes); the rest from Meta's table.
 */
const THROTTLED = new Set([4, 80007, 130429, 131048, 131056, 133016]);
/** Ours, not the person's: the token, the app's permissions, the account, its payment, or the template itself. */
const CONFIGURATION: Record<number, string> = {
  0: 'the access token could not be used',
  190: 'the access token has expired or was revoked',
  10: 'the app lacks permission',
  131031: 'the business account is locked',
  131042: 'the business account has a payment problem',
  132000: 'the reply template takes parameters (it must take none)',
  132001: 'the reply template does not exist in that language',
  132015: 'the reply template is paused',
  132016: 'the reply template is disabled',
};
/** About this person or this message: retrying cannot help. */
const PERMANENT: Record<number, string> = {
  [OUTSIDE_WINDOW]: 'more than 24 hours since the person last wrote',
  131026: 'the number cannot receive it (not on WhatsApp, an old app, or terms not accepted)',
  131049: 'Meta chose not to deliver it',
  [OPTED_OUT]: 'the person opted out of messages from this business',
  131021: 'the recipient is our own number',
};

/** A non-2xx Graph answer: classified by Meta's code where we know it, else by the HTTP status. */
export function graphRefusal(status: number, body: unknown, what: string, retryAfterMs: number | null): WhatsAppRefusal {
  const raw = (body as { error?: { code?: unknown } } | null)?.error?.code;
  const code = typeof raw === 'number' && Number.isInteger(raw) ? raw : null;
  const said = (reason: string) => `WhatsApp refused ${what} (${status}, error ${code}): ${reason}`;
  if (code !== null && THROTTLED.has(code)) return new WhatsAppRefusal(new DeliveryError('WhatsApp', 'transient', status, `WhatsApp is throttling ${what} (${status}, error ${code})`, retryAfterMs), code);
  if (code !== null && (CONFIGURATION[code] || (code >= 200 && code < 300))) {
    return new WhatsAppRefusal(new DeliveryError('WhatsApp', 'configuration', status, said(CONFIGURATION[code] ?? 'the app lacks permission')), code);
  }
  if (code !== null && PERMANENT[code]) {
    const hint = code === OPTED_OUT ? ({ is: 'opted_out' } as const) : null;
    return new WhatsAppRefusal(new DeliveryError('WhatsApp', 'permanent', status, said(PERMANENT[code]), null, hint), code);
  }
  return new WhatsAppRefusal(classifyStatus('WhatsApp', status, what, retryAfterMs, code === null ? '' : `error code ${code}`), code);
}
