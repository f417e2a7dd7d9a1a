import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** An answer, or `silent`: the request arrives and nothing comes back, as when the service takes it and the answer is lost. */
type Scripted = { status: number; headers?: Record<string, string>; body?: string } | 'silent';

export interface Recorded {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/**
 * A real HTTP listener standing in for an outside service (Graph API, a push service): it records what
 * arrives and answers with scripted statuses, so a test checks the bytes the gateway really sends.
 */
export class HttpRecorder {
  readonly requests: Recorded[] = [];
  private readonly script: Array<Scripted> = [];
  private server: http.Server | null = null;
  private defaultReply: { status: number; body: string } = { status: 200, body: '{}' };

  static async start(defaultReply?: { status: number; body: string }): Promise<HttpRecorder> {
    const r = new HttpRecorder();
    if (defaultReply) r.defaultReply = defaultReply;
    r.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        r.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
        const next = r.script.shift() ?? { status: r.defaultReply.status, body: r.defaultReply.body };
        if (next === 'silent') return;
        res.writeHead(next.status, { 'Content-Type': 'application/json', ...(next.headers ?? {}) });
        res.end(next.body ?? '{}');
      });
    });
    await new Promise<void>((resolve) => r.server!.listen(0, '127.0.0.1', resolve));
    return r;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  /** The next answers, in order; after them the default reply. */
  answerNext(...replies: Scripted[]): void {
    this.script.push(...replies);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server?.closeAllConnections();
      this.server?.close(() => resolve());
    });
  }
}
