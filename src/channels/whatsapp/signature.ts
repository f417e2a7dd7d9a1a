import { createHmac } from 'node:crypto';

/** `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>`, over the bytes as received. */
export function whatsappSignature(appSecret: string, rawBody: Buffer): string {
  return `sha256=${createHmac('sha256', appSecret).update(rawBody).digest('hex')}`;
}
