import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';

/** A request's route with its ids replaced, e.g. `GET /api/v2/cases/:id`: what "requests per case" is counted by. */
export function routeOf(method: string | undefined, url: string | undefined): string {
  const path = (url ?? '').split('?')[0]!.replace(/\/[0-9a-f]{8}-[0-9a-f-]{27,}/gi, '/:id');
  return `${method ?? '?'} ${path}`;
}

/**
 * Primero answering after `delayMs`: 204 for creates (409 for a repeat), the record for reads. With `faults`,
 * a share of calls answers 500 and another share hangs past the client's timeout — after storing the case,
 * as a slow Primero does. Used by the bench and the chaos suite.
 */
export class PrimeroStandIn {
  /** record id → the reference written in other_agency_id */
  readonly created = new Map<string, string>();
  /** reference → when its create reached the stand-in (ms since the epoch, this process's clock) */
  readonly arrivals = new Map<string, number>();
  /** route (routeOf) → requests received, errors and hangs included */
  readonly requests = new Map<string, number>();
  duplicates = 0;
  /** The reference of every create received, repeats (answered 409) included: a job run twice shows here. */
  readonly creates: string[] = [];
  calls = 0;
  delayMs = 0;
  faults: { errorRate: number; hangRate: number; hangMs: number } | null = null;
  private server: http.Server | null = null;

  async start(): Promise<number> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.calls++;
        const route = routeOf(req.method, req.url);
        this.requests.set(route, (this.requests.get(route) ?? 0) + 1);
        const roll = Math.random();
        const f = this.faults;
        if (f && roll < f.errorRate) {
          res.writeHead(500, { 'Content-Type': 'application/json' }).end(JSON.stringify({ errors: [{ status: 500, resource: req.url, message: 'boom' }] }));
          return;
        }
        const hang = f !== null && roll < f.errorRate + f.hangRate;
        setTimeout(() => {
          if (req.method === 'POST') {
            const data = (JSON.parse(Buffer.concat(chunks).toString()) as { data: { id: string; other_agency_id?: string } }).data;
            this.creates.push(data.other_agency_id ?? '');
            if (this.created.has(data.id)) {
              this.duplicates++;
              // As Primero's ErrorService renders ActiveRecord::RecordNotUnique (test/fixtures/primero/error-409-conflict.json).
              res.writeHead(409, { 'Content-Type': 'application/json' }).end(JSON.stringify({ errors: [{ status: 409, resource: req.url, message: 'Conflict: A record with this id already exists' }] }));
              return;
            }
            this.created.set(data.id, data.other_agency_id ?? '');
            if (data.other_agency_id) this.arrivals.set(data.other_agency_id, Date.now());
            res.writeHead(204).end();
          } else {
            res.writeHead(200, { 'Content-Type': 'application/json' }).end(
              JSON.stringify({ data: { case_id_display: randomBytes(3).toString('hex'), owned_by: 'standin', status: 'open', workflow: 'new', last_updated_at: new Date().toISOString() } }),
            );
          }
        }, hang ? f!.hangMs : this.delayMs);
      });
    });
    this.server.keepAliveTimeout = 60_000;
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    return (this.server.address() as AddressInfo).port;
  }

  /** Forgets every case and count: the next measurement starts from nothing. */
  reset(delayMs: number): void {
    this.created.clear();
    this.arrivals.clear();
    this.requests.clear();
    this.duplicates = 0;
    this.calls = 0;
    this.delayMs = delayMs;
  }

  /** How many cases carry each reference. */
  casesPerReference(): Map<string, number> {
    const out = new Map<string, number>();
    for (const ref of this.created.values()) out.set(ref, (out.get(ref) ?? 0) + 1);
    return out;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }
}
