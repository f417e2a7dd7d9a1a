import type { AxiosInstance } from 'axios';
import { classifyStatus, DeliveryError } from '../../clients/delivery-error';
import { observedRequest, outboundHttp } from '../../clients/http-client';
import { parseRetryAfter } from '../../clients/retry-after';
import { parseUrn } from '../../domain/urn';
import { providerCall, type PersonMessage, type PersonSender, type PersonSenderFactory, type SendOutcome } from '../../replies/person-sender';

/** Twilio refuses a longer body (error 21617); courier splits instead, but parts would be several sends. */
export const TWILIO_BODY_MAX = 1600;

/*
 * Twilio's error codes as nyaruka/courier reads them (handlers/twiml/handlers.go: 21610 is a contact who sent
 * STOP; the titles in handlers/twiml/errors.json). Each says who must act: the person, or us.
 */
const PERSON: Record<number, string> = {
  21610: 'the person opted out (they replied STOP to our number)',
  21211: "the 'To' number is not a valid phone number",
  21614: "the 'To' number is not a mobile number",
  21612: "the 'To' number cannot be reached by SMS",
  21408: "sending to the 'To' number's region is not enabled on the account",
  21617: 'the message is longer than 1600 characters',
};
const OURS: Record<number, string> = {
  20003: 'TWILIO_ACCOUNT_SID or TWILIO_AUTH_TOKEN is wrong',
  20404: 'the account in TWILIO_ACCOUNT_SID does not exist',
  21606: 'TWILIO_FROM is not a message-capable number of this account',
  21608: 'the account is a trial account and the number is not verified on it',
};

const WHAT = 'the SMS';
/** The person replied STOP to our number: Twilio refuses every message to them until they reply START. */
const UNSUBSCRIBED = 21610;

/** A non-2xx answer: Twilio's `code` where it names the cause, else the HTTP status. */
export function twilioRefusal(status: number, body: unknown, retryAfterMs: number | null): DeliveryError {
  const raw = (body as { code?: unknown } | null)?.code;
  const code = typeof raw === 'number' && Number.isInteger(raw) ? raw : null;
  // A 429 (error 20429) or a full queue on our number (21611) was not processed, so a retry sends it once (courier retries it as throttled).
  if (status === 429 || code === 20429 || code === 21611) return new DeliveryError('Twilio', 'transient', status, `Twilio is rate limiting ${WHAT} (${status})`, retryAfterMs);
  if (status >= 500) return classifyStatus('Twilio', status, WHAT, retryAfterMs);
  if (code !== null && PERSON[code]) {
    const hint = code === UNSUBSCRIBED ? ({ is: 'opted_out' } as const) : null;
    return new DeliveryError('Twilio', 'permanent', status, `Twilio refused ${WHAT} (${status}, error ${code}): ${PERSON[code]}`, null, hint);
  }
  if (code !== null && OURS[code]) return new DeliveryError('Twilio', 'configuration', status, `Twilio refused ${WHAT} (${status}, error ${code}): ${OURS[code]}`);
  return classifyStatus('Twilio', status, WHAT, retryAfterMs, code === null ? '' : `error code ${code}`);
}

/** An E.164 number from a `tel:` URN, or null (a short code, a masked URN, another scheme). */
function telNumber(urn: string): string | null {
  const parsed = parseUrn(urn);
  return parsed?.scheme === 'tel' && /^\+[1-9][0-9]{6,14}$/.test(parsed.path) ? parsed.path : null;
}

/** One SMS through Twilio's Messages resource: `POST /2010-04-01/Accounts/{sid}/Messages.json`, form-encoded. */
export class TwilioPersonSender implements PersonSender {
  private readonly http: AxiosInstance;

  constructor(private readonly opts: { apiUrl: string; accountSid: string; authToken: string; from: string; timeoutMs: number }) {
    this.http = outboundHttp({
      baseURL: opts.apiUrl,
      timeoutMs: opts.timeoutMs,
      auth: { username: opts.accountSid, password: opts.authToken },
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
    });
  }

  async send(message: PersonMessage): Promise<SendOutcome> {
    const to = telNumber(message.urn);
    if (!to) throw new DeliveryError('Twilio', 'permanent', null, 'the record names no phone number to send an SMS to');
    if ([...message.text].length > TWILIO_BODY_MAX) throw new DeliveryError('Twilio', 'permanent', null, `the message is longer than Twilio's ${TWILIO_BODY_MAX} characters: nothing was sent`);
    const form = new URLSearchParams({ To: to, From: this.opts.from, Body: message.text });
    const url = `/2010-04-01/Accounts/${encodeURIComponent(this.opts.accountSid)}/Messages.json`;
    return providerCall('Twilio', async () => {
      const res = await observedRequest(this.http, { method: 'post', url, data: form.toString() }, { service: 'Twilio', what: WHAT });
      if (res.status >= 200 && res.status < 300) return { sent: 'text' } as const;
      throw twilioRefusal(res.status, res.data, parseRetryAfter(res.headers['retry-after']));
    });
  }
}

/** Null unless TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM are set. */
export const twilioPersonSender: PersonSenderFactory = ({ config }) => {
  if (!config.TWILIO_ACCOUNT_SID || !config.TWILIO_AUTH_TOKEN || !config.TWILIO_FROM) return null;
  return new TwilioPersonSender({
    apiUrl: config.TWILIO_API_URL,
    accountSid: config.TWILIO_ACCOUNT_SID,
    authToken: config.TWILIO_AUTH_TOKEN,
    from: config.TWILIO_FROM,
    timeoutMs: config.REPLY_TIMEOUT_MS,
  });
};
