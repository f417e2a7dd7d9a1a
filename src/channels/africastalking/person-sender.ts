import type { AxiosInstance } from 'axios';
import { classifyStatus, DeliveryError, type FailureKind } from '../../clients/delivery-error';
import { observedRequest, outboundHttp } from '../../clients/http-client';
import { parseRetryAfter } from '../../clients/retry-after';
import { parseUrn } from '../../domain/urn';
import { providerCall, type PersonMessage, type PersonSender, type PersonSenderFactory, type SendOutcome } from '../../replies/person-sender';

const SERVICE = "Africa's Talking";

/*
 * A 2xx answer says only that the request was read; each recipient has its own statusCode. The codes and names
 * as the SDKs list them (SamuelMwangiW/africastalking-laravel src/ValueObjects/SentMessageRecipient.php,
 * statusMessage; the official AfricasTalkingLtd/africastalking-node.js test/mocks.js answers 201 with
 * statusCode 101, status "Success"; nyaruka/courier handlers/africastalking/handler.go takes "Success" as sent).
 */
const SENT = new Set([100, 101, 102]); // Processed, Sent, Queued: Africa's Talking has it and will deliver it
const REFUSED: Record<number, [FailureKind, string]> = {
  401: ['configuration', 'RiskHold: the account is held by their risk team'],
  402: ['configuration', 'InvalidSenderId: AFRICASTALKING_FROM is not a sender id of this account'],
  405: ['configuration', 'InsufficientBalance: the account has no credit'],
  403: ['permanent', 'InvalidPhoneNumber'],
  404: ['permanent', 'UnsupportedNumberType'],
  406: ['permanent', 'UserInBlacklist: the person opted out of messages from this sender'],
  407: ['permanent', 'CouldNotRoute: no network route to the number'],
  409: ['permanent', 'DoNotDisturbRejection: the person asked their network for no such messages'],
  502: ['permanent', 'RejectedByGateway: the network refused it'],
  500: ['transient', 'InternalServerError'],
  501: ['transient', 'GatewayError'],
};

interface Recipient {
  statusCode?: unknown;
  status?: unknown;
}

const WHAT = 'the SMS';
/*
 * UserInBlacklist: the person sent STOP to this sender, a choice about us. DoNotDisturbRejection (409) is a setting
 * on their line with their network against bulk messages in general, not an opt-out from us: it stays a refusal.
 */
const BLACKLISTED = 406;

/** What a 2xx answer says about our one recipient: sent, or why not. */
export function recipientOutcome(status: number, body: unknown): DeliveryError | null {
  const data = (body as { SMSMessageData?: { Message?: unknown; Recipients?: unknown } } | null)?.SMSMessageData;
  if (!data || !Array.isArray(data.Recipients)) {
    // We cannot tell whether it went: never send it again.
    return new DeliveryError(SERVICE, 'permanent', status, `${SERVICE} answered ${WHAT} without recipients we can read`, null, { is: 'maybe_sent' });
  }
  const first = data.Recipients[0] as Recipient | undefined;
  if (!first) {
    // Nothing was accepted; the summary names an account problem such as InvalidSenderId, or nothing.
    if (data.Message === 'InvalidSenderId') return new DeliveryError(SERVICE, 'configuration', status, `${SERVICE} refused ${WHAT}: ${REFUSED[402]![1]}`);
    return new DeliveryError(SERVICE, 'permanent', status, `${SERVICE} accepted ${WHAT} for no recipient`);
  }
  const code = Number(first.statusCode);
  if (SENT.has(code) || (first.statusCode === undefined && first.status === 'Success')) return null;
  const known = REFUSED[code];
  if (known) return new DeliveryError(SERVICE, known[0], status, `${SERVICE} refused ${WHAT} (recipient status ${code}): ${known[1]}`, null, code === BLACKLISTED ? { is: 'opted_out' } : null);
  return new DeliveryError(SERVICE, 'permanent', status, `${SERVICE} answered ${WHAT} with an unknown recipient status`, null, { is: 'maybe_sent' });
}

function telNumber(urn: string): string | null {
  const parsed = parseUrn(urn);
  return parsed?.scheme === 'tel' && /^\+[1-9][0-9]{6,14}$/.test(parsed.path) ? parsed.path : null;
}

/** One SMS through Africa's Talking: `POST /version1/messaging`, form-encoded, the API key in a header. */
export class AfricasTalkingPersonSender implements PersonSender {
  private readonly http: AxiosInstance;

  constructor(private readonly opts: { apiUrl: string; username: string; apiKey: string; from: string | undefined; timeoutMs: number }) {
    this.http = outboundHttp({
      baseURL: opts.apiUrl,
      timeoutMs: opts.timeoutMs,
      headers: { apiKey: opts.apiKey, Accept: 'application/json', 'Content-Type': 'application/x-www-form-urlencoded' },
    });
  }

  async send(message: PersonMessage): Promise<SendOutcome> {
    const to = telNumber(message.urn);
    if (!to) throw new DeliveryError(SERVICE, 'permanent', null, 'the record names no phone number to send an SMS to');
    const form = new URLSearchParams({ username: this.opts.username, to, message: message.text });
    if (this.opts.from) form.set('from', this.opts.from);
    return providerCall(SERVICE, async () => {
      const res = await observedRequest(this.http, { method: 'post', url: '/version1/messaging', data: form.toString() }, { service: SERVICE, what: WHAT });
      if (res.status < 200 || res.status >= 300) throw classifyStatus(SERVICE, res.status, WHAT, parseRetryAfter(res.headers['retry-after']));
      const refusal = recipientOutcome(res.status, res.data);
      if (refusal) throw refusal;
      return { sent: 'text' } as const;
    });
  }
}

/** Null unless AFRICASTALKING_USERNAME and AFRICASTALKING_API_KEY are set; AFRICASTALKING_FROM is optional (the shared short code). */
export const africasTalkingPersonSender: PersonSenderFactory = ({ config }) => {
  if (!config.AFRICASTALKING_USERNAME || !config.AFRICASTALKING_API_KEY) return null;
  return new AfricasTalkingPersonSender({
    apiUrl: config.AFRICASTALKING_API_URL,
    username: config.AFRICASTALKING_USERNAME,
    apiKey: config.AFRICASTALKING_API_KEY,
    from: config.AFRICASTALKING_FROM,
    timeoutMs: config.REPLY_TIMEOUT_MS,
  });
};
