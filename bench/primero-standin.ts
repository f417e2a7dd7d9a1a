import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';

/** Primero answering after `delayMs`: 204 for creates, the record for reads. Counts distinct cases created. */
export class PrimeroStandIn {
  readonly created = new Set<string>();
  duplicates = 0;
  delayMs = 0;
  private server: http.Server | null = null;

  async start(): Promise<number> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        setTimeout(() => {
          if (req.method === 'POST') {
            const id = (JSON.parse(Buffer.concat(chunks).toString()) as { data: { id: string } }).data.id;
            if (this.created.has(id)) {
              this.duplicates++;
              res.writeHead(409).end('{"errors":[{"status":409}]}');
              return;
            }
            this.created.add(id);
            res.writeHead(204).end();
          } else {
            res.writeHead(200, { 'Content-Type': 'application/json' }).end(
              JSON.stringify({ data: { case_id_display: randomBytes(3).toString('hex'), owned_by: 'bench', status: 'open', workflow: 'new', last_updated_at: new Date().toISOString() } }),
            );
          }
        }, this.delayMs);
      });
    });
    this.server.keepAliveTimeout = 60_000;
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    return (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }
}
