import { isBusinessScopedId } from './sender-id';
import type { AxiosInstance } from 'axios';
import type { CallObserver } from '../../clients/delivery-error';
import { observedRequest, outboundHttp } from '../../clients/http-client';
import { parseRetryAfter } from '../../clients/retry-after';
import { graphRefusal } from './graph-errors';

export interface WhatsAppClientOptions {
  graphUrl: string;
  phoneNumberId: string;
  accessToken: string;
  timeoutMs: number;
  observe?: CallObserver;
}

/** Meta's limit on a text message's body (Cloud API messages reference, text object). */
export const WHATSAPP_TEXT_MAX = 4096;

/** Sends messages through the WhatsApp Cloud API messages endpoint; a refusal is a WhatsAppRefusal. */
export class WhatsAppClient {
  private readonly http: AxiosInstance;

  constructor(private readonly opts: WhatsAppClientOptions) {
    this.http = outboundHttp({
      baseURL: opts.graphUrl,
      timeoutMs: opts.timeoutMs,
      headers: { Authorization: `Bearer ${opts.accessToken}`, 'Content-Type': 'application/json' },
    });
  }

  sendText(waId: string, body: string): Promise<void> {
    return this.post(waId, { type: 'text', text: { preview_url: false, body } }, 'the WhatsApp message');
  }

  /**
   * An approved template without parameters: nothing of ours goes in it but its name. `deterministic` is the
   * only language policy Meta still takes (nyaruka/courier handlers/meta/whatsapp/templates.go).
   */
  sendTemplate(waId: string, name: string, language: string): Promise<void> {
    return this.post(waId, { type: 'template', template: { name, language: { policy: 'deterministic', code: language } } }, 'the WhatsApp template');
  }

  private async post(waId: string, content: Record<string, unknown>, what: string): Promise<void> {
    const res = await observedRequest(
      this.http,
      {
        method: 'post',
        url: `/${encodeURIComponent(this.opts.phoneNumberId)}/messages`,
        // A business-scoped user id goes in `recipient`, a phone number in `to` (nyaruka/courier:
        // handlers/meta/whatsapp/payloads.go, RecipientFields).
        data: { messaging_product: 'whatsapp', recipient_type: 'individual', ...(isBusinessScopedId(waId) ? { recipient: waId } : { to: waId }), ...content },
      },
      { service: 'WhatsApp', what, observe: this.opts.observe },
    );
    if (res.status >= 200 && res.status < 300) return;
    throw graphRefusal(res.status, res.data, what, parseRetryAfter(res.headers['retry-after']));
  }
}
