import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { primeroMerge } from '../../support/primero-fake';

/**
 * A Primero that keeps what it is sent, as a real HTTP server, so the model check can count records and
 * referrals afterwards. Shapes follow primeroIMS/primero: `POST /api/v2/cases` with `{data}` and a
 * client-chosen `data.id` (409 on a repeat, app/controllers/api/v2/cases_controller.rb via the record
 * create concern), `GET`/`PATCH /api/v2/cases/:id` answering `{data}`, and
 * `GET`/`POST /api/v2/cases/:id/referrals` (app/controllers/api/v2/referrals_controller.rb).
 */
export type Fault =
  /** Stores the write, then answers only after the client has given up (a slow Primero). */
  | 'commit-then-hang'
  /** Answers nothing in time and stores nothing. */
  | 'timeout'
  | '500'
  /** Primero's 403: this record is out of the API user's scope. */
  | '403'
  /** Stores the write and answers 409, as when an earlier attempt had already created it. */
  | '409'
  /** A validation refusal: permanent, the message becomes a dead letter. */
  | '422';

export interface FakeRecord {
  id: string;
  data: Record<string, unknown>;
  referrals: Array<Record<string, unknown>>;
  patches: number;
}

type Route = 'create' | 'read' | 'update' | 'refer' | 'referrals' | 'other';

export class FakePrimero {
  readonly records = new Map<string, FakeRecord>();
  /** Faults served to the next requests of a route, in order. */
  private readonly faults: Record<Route, Fault[]> = { create: [], read: [], update: [], refer: [], referrals: [], other: [] };
  /** Every request's route, to prove a simulated run reached nothing. */
  readonly log: Array<{ route: Route; at: number }> = [];
  /** Milliseconds every answer waits: wide enough for two read-modify-writes to overlap. */
  delayMs = 30;
  hangMs = 1500;
  private displayIds = 0;
  private server: http.Server | null = null;
  private readonly pending = new Set<NodeJS.Timeout>();

  inject(route: Route, ...faults: Fault[]): void {
    this.faults[route].push(...faults);
  }

  reset(): void {
    this.records.clear();
    this.log.length = 0;
    for (const list of Object.values(this.faults)) list.length = 0;
  }

  async start(): Promise<number> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => this.answer(req, res, Buffer.concat(chunks).toString()));
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    return (this.server.address() as AddressInfo).port;
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.pending.delete(t);
      fn();
    }, ms);
    this.pending.add(t);
  }

  private answer(req: http.IncomingMessage, res: http.ServerResponse, body: string): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const m = /^\/api\/v2\/(cases|incidents)(?:\/([^/]+))?(?:\/(referrals))?$/.exec(url.pathname);
    const id = m?.[2] ? decodeURIComponent(m[2]) : undefined;
    const route: Route = !m
      ? 'other'
      : m[3]
        ? req.method === 'POST'
          ? 'refer'
          : 'referrals'
        : id
          ? req.method === 'PATCH'
            ? 'update'
            : 'read'
          : req.method === 'POST'
            ? 'create'
            : 'other';
    this.log.push({ route, at: Date.now() });
    const fault = this.faults[route].shift();
    const send = (status: number, json?: unknown) => {
      if (res.destroyed) return;
      if (json === undefined) res.writeHead(status).end();
      else res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(json));
    };
    const error = (status: number) => ({ errors: [{ status, resource: url.pathname, message: status === 422 ? 'Invalid' : 'Error' }] });
    if (fault === 'timeout') return this.later(this.hangMs, () => send(500, error(500)));
    if (fault === '500' || fault === '403' || fault === '422') return this.later(this.delayMs, () => send(Number(fault), error(Number(fault))));

    // The effect happens now; the answer comes after the delay (or after the client gave up).
    const [status, json] = this.apply(route, id, body);
    const finalStatus = fault === '409' && status < 300 && route === 'create' ? 409 : status;
    this.later(fault === 'commit-then-hang' ? this.hangMs : this.delayMs, () => send(finalStatus, json));
  }

  private apply(route: Route, id: string | undefined, body: string): [number, unknown?] {
    const record = id ? this.records.get(id) : undefined;
    const data = (): Record<string, unknown> => ((JSON.parse(body || '{}') as { data?: Record<string, unknown> }).data ?? {});
    switch (route) {
      case 'create': {
        const d = data();
        const newId = String(d.id);
        if (this.records.has(newId)) return [409, { errors: [{ status: 409, resource: '/api/v2/cases', message: 'Conflict: A record with this id already exists' }] }];
        this.records.set(newId, { id: newId, data: { ...d, case_id_display: `cd${++this.displayIds}`, status: 'open', owned_by: 'gateway' }, referrals: [], patches: 0 });
        return [204];
      }
      case 'read':
        return record ? [200, { data: { ...record.data, last_updated_at: new Date().toISOString() } }] : [404, { errors: [{ status: 404 }] }];
      case 'update':
        if (!record) return [404, { errors: [{ status: 404 }] }];
        // As Primero applies a PATCH: subform arrays (a merged report's notes_section entry) merge by unique_id.
        record.data = primeroMerge(record.data, data()) as Record<string, unknown>;
        record.patches++;
        return [200, { data: record.data }];
      case 'refer':
        if (!record) return [404, { errors: [{ status: 404 }] }];
        record.referrals.push({ ...data(), status: 'in_progress', type: 'referral' });
        return [200, { data: record.referrals.at(-1) }];
      case 'referrals':
        return record ? [200, { data: record.referrals }] : [404, { errors: [{ status: 404 }] }];
      default:
        return [200, { data: [], metadata: { total: 0 } }];
    }
  }

  async stop(): Promise<void> {
    for (const t of this.pending) clearTimeout(t);
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }
}
