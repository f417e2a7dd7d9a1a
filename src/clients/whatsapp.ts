import http from 'node:http';
import https from 'node:https';
import axios, { type AxiosInstance } from 'axios';
import { classifyStatus, networkFailure, outcomeOf, type CallObserver } from './delivery-error';
import { parseRetryAfter } from './retry-after';

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
    this.http = axios.create({
      baseURL: opts.graphUrl,
      timeout: opts.timeoutMs,
      headers: { Authorization: `Bearer ${opts.accessToken}`, 'Content-Type': 'application/json' },
      validateStatus: () => true,
      maxRedirects: 0,
      httpAgent: new http.Agent({ keepAlive: true }),
      httpsAgent: new https.Agent({ keepAlive: true }),
    });
  }

  async sendText(waId: string, body: string): Promise<void> {
    const what = 'the WhatsApp message';
    let res;
    try {
      res = await this.http.post(`/${encodeURIComponent(this.opts.phoneNumberId)}/messages`, {
        messaging_product: 'whatsapp',
        recipient_type: 'individual',
        to: waId,
        type: 'text',
        text: { preview_url: false, body },
      });
    } catch (err) {
      this.opts.observe?.('network');
      throw networkFailure('WhatsApp', what, err);
    }
    this.opts.observe?.(outcomeOf(res.status));
    if (res.status >= 200 && res.status < 300) return;
    const code = (res.data as { error?: { code?: unknown } } | null)?.error?.code;
    throw classifyStatus('WhatsApp', res.status, what, parseRetryAfter(res.headers['retry-after']), typeof code === 'number' ? `error code ${code}` : '');
  }
}
