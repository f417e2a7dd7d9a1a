import { isBusinessScopedId } from './sender-id';
import type { AxiosInstance } from 'axios';
import { classifyStatus, type CallObserver } from '../../clients/delivery-error';
import { observedRequest, outboundHttp } from '../../clients/http-client';
import { parseRetryAfter } from '../../clients/retry-after';

export interface WhatsAppClientOptions {
  graphUrl: string;
  phoneNumberId: string;
  accessToken: string;
  timeoutMs: number;
  observe?: CallObserver;
}

/** Sends text messages through the WhatsApp Cloud API messages endpoint. */
export class WhatsAppClient {
  private readonly http: AxiosInstance;

  constructor(private readonly opts: WhatsAppClientOptions) {
    this.http = outboundHttp({
      baseURL: opts.graphUrl,
      timeoutMs: opts.timeoutMs,
      headers: { Authorization: `Bearer ${opts.accessToken}`, 'Content-Type': 'application/json' },
    });
  }

  async sendText(waId: string, body: string): Promise<void> {
    const what = 'the WhatsApp message';
    const res = await observedRequest(
      this.http,
      {
        method: 'post',
        url: `/${encodeURIComponent(this.opts.phoneNumberId)}/messages`,
        // A business-scoped user id goes in `recipient`, a phone number in `to` (nyaruka/courier:
        // handlers/meta/whatsapp/payloads.go, RecipientFields).
        data: { messaging_product: 'whatsapp', recipient_type: 'individual', ...(isBusinessScopedId(waId) ? { recipient: waId } : { to: waId }), type: 'text', text: { preview_url: false, body } },
      },
      { service: 'WhatsApp', what, observe: this.opts.observe },
    );
    if (res.status >= 200 && res.status < 300) return;
    const code = (res.data as { error?: { code?: unknown } } | null)?.error?.code;
    throw classifyStatus('WhatsApp', res.status, what, parseRetryAfter(res.headers['retry-after']), typeof code === 'number' ? `error code ${code}` : '');
  }
}
