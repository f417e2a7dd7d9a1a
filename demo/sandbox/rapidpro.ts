import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';

export interface SandboxFlowStart {
  flow: string;
  urns: string[];
  params: Record<string, string>;
  at: number;
}

/**
 * A stand-in for RapidPro's REST API v2 flow starts (../shared/reference/rapidpro.md §3): `Authorization:
 * Token`, 403 {"detail":"Invalid token"} otherwise, ≤ 100 URNs, 201 with a pending start, and a 429 with
 * Retry-After on demand, as a workspace over its quota answers. `GET /api/v2/flows.json?uuid=` describes any
 * flow as the imported flows/notify.flow.json: a background flow (nyaruka/rapidpro FlowReadSerializer).
 */
export class RapidProSandbox {
  readonly starts: SandboxFlowStart[] = [];
  private throttled = 0;
  private retryAfterSeconds = 1;
  private server: http.Server | null = null;

  constructor(private readonly token: string) {}

  async start(): Promise<void> {
    const app = express();
    app.use(express.json());
    app.get('/api/v2/flows.json', (req, res) => {
      if (req.get('authorization') !== `Token ${this.token}`) return res.status(403).json({ detail: 'Invalid token' });
      const uuid = typeof req.query.uuid === 'string' ? req.query.uuid : randomUUID();
      res.json({ next: null, previous: null, results: [{ uuid, name: 'Primero Gateway Case Update', type: 'background', archived: false }] });
    });
    app.post('/api/v2/flow_starts.json', (req, res) => {
      if (req.get('authorization') !== `Token ${this.token}`) return res.status(403).json({ detail: 'Invalid token' });
      if (this.throttled > 0) {
        this.throttled--;
        return res.status(429).set('Retry-After', String(this.retryAfterSeconds)).json({ detail: `Request was throttled. Expected available in ${this.retryAfterSeconds} seconds.` });
      }
      const { flow, urns, params } = req.body ?? {};
      if (typeof flow !== 'string') return res.status(400).json({ flow: ['This field is required.'] });
      if (!Array.isArray(urns) || urns.length === 0 || urns.length > 100) return res.status(400).json({ urns: ['Ensure this field has no more than 100 elements.'] });
      this.starts.push({ flow, urns, params: params ?? {}, at: Date.now() });
      res.status(201).json({ uuid: randomUUID(), flow: { uuid: flow, name: 'Case update' }, status: 'pending', params: params ?? {}, created_on: new Date().toISOString() });
    });
    this.server = http.createServer(app);
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Known from start, and still after stop (reports read it). */
  url = '';

  /** The next `count` calls answer 429 with Retry-After. */
  throttle(count: number, retryAfterSeconds = 1): void {
    this.throttled = count;
    this.retryAfterSeconds = retryAfterSeconds;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }
}
