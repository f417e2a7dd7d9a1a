import { createHmac } from 'node:crypto';

/**
 * X-Twilio-Signature: HMAC-SHA1 with the auth token over the full public URL followed by every POST key in
 * sorted order, each followed by its value(s); base64.
 */
export function twilioSignature(authToken: string, url: string, params: URLSearchParams): string {
  const pairs = [...params.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const payload = url + pairs.map(([k, v]) => k + v).join('');
  return createHmac('sha1', authToken).update(payload, 'utf8').digest('base64');
}
