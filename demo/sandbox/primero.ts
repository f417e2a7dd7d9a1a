import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';

/**
 * A small stand-in for Primero API v2, following ../shared/reference/primero-api.md: HTTP Basic, `data.id` → 204
 * and a repeat → 409, `case_id_display`, the CP consent rule on referrals, assigns and flags, the
 * `last_updated_at` range filter, and case.create / case.update webhooks with `x-api-key`. Not the product:
 * the gateway reaches it only through PRIMERO_URL.
 */
export interface SandboxCase extends Record<string, unknown> {
  id: string;
  case_id_display: string;
  owned_by: string;
  assigned_user_names: string[];
  status: string;
  workflow: string;
  last_updated_at: string;
}

export class PrimeroSandbox {
  readonly cases = new Map<string, SandboxCase>();
  readonly referrals: Array<{ caseId: string; to: string }> = [];
  readonly flags: Array<{ caseId: string; message: string }> = [];
  /** Every request the gateway made, as method + path + status: what an operator would see in Primero's logs. */
  readonly requests: Array<{ method: string; path: string; status: number }> = [];
  private outage: { until: number; status: number } | null = null;
  private server: http.Server | null = null;
  private clock = Date.now();

  constructor(
    private readonly user: string,
    private readonly password: string,
    private readonly webhook: { url: string; apiKey: string } | null,
  ) {}

  async start(): Promise<void> {
    const app = express();
    app.use(express.json({ limit: '1mb' }));
    app.use((req, res, next) => {
      res.on('finish', () => this.requests.push({ method: req.method, path: req.path, status: res.statusCode }));
      next();
    });
    app.use((req: Request, res: Response, next: NextFunction) => this.guard(req, res, next));
    app.post('/api/v2/cases', (req, res) => this.create(req, res));
    app.get('/api/v2/cases', (req, res) => this.list(req, res));
    app.get('/api/v2/cases/:id', (req, res) => {
      const c = this.cases.get(req.params.id);
      if (!c) return res.status(404).json({ errors: [{ status: 404, resource: req.path, message: 'Not Found' }] });
      res.json({ data: c });
    });
    app.patch('/api/v2/cases/:id', (req, res) => {
      const c = this.cases.get(req.params.id);
      if (!c) return res.status(404).json({ errors: [{ status: 404, resource: req.path, message: 'Not Found' }] });
      this.update(c, req.body?.data ?? {});
      res.json({ data: c });
    });
    app.post('/api/v2/cases/:id/referrals', (req, res) => this.refer(req, res));
    app.post('/api/v2/cases/:id/assigns', (req, res) => {
      const c = this.cases.get(req.params.id);
      if (!c) return res.status(404).json({ errors: [{ status: 404, resource: req.path, message: 'Not Found' }] });
      this.update(c, { owned_by: req.body?.data?.transitioned_to });
      res.json({ data: { id: randomUUID(), type: 'Assign', status: 'done', record_id: c.id } });
    });
    app.post('/api/v2/cases/:id/flags', (req, res) => {
      this.flags.push({ caseId: req.params.id, message: String(req.body?.data?.message ?? '') });
      res.json({ data: { id: this.flags.length } });
    });
    this.server = http.createServer(app);
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Known from start, and still after stop (reports read it). */
  url = '';

  /** Primero unavailable (e.g. a deployment) for `ms`: every call answers `status`. */
  goDown(ms: number, status = 503): void {
    this.outage = { until: Date.now() + ms, status };
  }

  /** What a supervisor does in Primero's UI: assign the case to a caseworker (fires case.update). */
  async assign(caseId: string, user: string): Promise<void> {
    const c = this.cases.get(caseId)!;
    this.update(c, { owned_by: user, assigned_user_names: [...new Set([...c.assigned_user_names, user])], workflow: 'case_plan' });
    await this.emit(c);
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }

  private guard(req: Request, res: Response, next: NextFunction): void {
    if (this.outage && Date.now() < this.outage.until) {
      res.status(this.outage.status).set('Retry-After', '1').json({ errors: [{ status: this.outage.status, message: 'Service Unavailable' }] });
      return;
    }
    const [scheme, encoded] = (req.get('authorization') ?? '').split(' ');
    const [u, p] = Buffer.from(encoded ?? '', 'base64').toString().split(':');
    if (scheme !== 'Basic' || u !== this.user || p !== this.password) {
      res.status(401).json({ error: 'Invalid User name or password.' });
      return;
    }
    next();
  }

  private now(): string {
    // Strictly increasing, like a database clock: two changes in one millisecond still order.
    this.clock = Math.max(Date.now(), this.clock + 1);
    return new Date(this.clock).toISOString();
  }

  private create(req: Request, res: Response): void {
    const data = (req.body?.data ?? {}) as Record<string, unknown>;
    if (!data.module_id) {
      res.status(422).json({ errors: [{ status: 422, resource: '/api/v2/cases', detail: 'module_id', message: ['is required'] }] });
      return;
    }
    const id = typeof data.id === 'string' ? data.id : randomUUID();
    if (this.cases.has(id)) {
      res.status(409).json({ errors: [{ status: 409, resource: '/api/v2/cases', message: 'Conflict: A record with this id already exists' }] });
      return;
    }
    const c: SandboxCase = {
      ...data,
      id,
      case_id_display: randomBytes(4).toString('hex').slice(0, 7),
      owned_by: this.user,
      assigned_user_names: [],
      status: 'open',
      workflow: 'new',
      last_updated_at: this.now(),
    };
    this.cases.set(id, c);
    void this.emit(c);
    if (typeof data.id === 'string') res.status(204).end();
    else res.json({ data: c });
  }

  private list(req: Request, res: Response): void {
    const range = String(req.query.last_updated_at ?? '').split('..');
    const from = Date.parse(range[0] ?? '') || 0;
    const to = Date.parse(range[1] ?? '') || Number.MAX_SAFE_INTEGER;
    const rows = [...this.cases.values()]
      .filter((c) => Date.parse(c.last_updated_at) >= from && Date.parse(c.last_updated_at) <= to)
      .sort((a, b) => a.last_updated_at.localeCompare(b.last_updated_at));
    res.json({ data: rows, metadata: { total: rows.length, per: rows.length, page: 1 } });
  }

  private refer(req: Request, res: Response): void {
    const c = this.cases.get(String(req.params.id));
    if (!c) {
      res.status(404).json({ errors: [{ status: 404, message: 'Not Found' }] });
      return;
    }
    const body = (req.body?.data ?? {}) as Record<string, unknown>;
    const consent = c.consent_for_services === true && c.disclosure_other_orgs === true;
    if (!consent && body.consent_overridden !== true) {
      res.status(422).json({ errors: [{ status: 422, resource: `/api/v2/cases/${c.id}/referrals`, detail: 'consent', message: ['transition.errors.consent'] }] });
      return;
    }
    const to = String(body.transitioned_to);
    this.referrals.push({ caseId: c.id, to });
    this.update(c, { assigned_user_names: [...new Set([...c.assigned_user_names, to])] });
    void this.emit(c);
    res.json({ data: { id: randomUUID(), type: 'Referral', status: 'in_progress', record_id: c.id, record_type: 'case', transitioned_to: to } });
  }

  /**
   * As Primero merges a PATCH: a subform entry whose unique_id the record knows is updated, a new one appended,
   * and entries the PATCH does not name are kept.
   */
  private update(c: SandboxCase, changes: Record<string, unknown>): void {
    const merged: Record<string, unknown> = { ...changes };
    for (const [field, value] of Object.entries(changes)) {
      const current = c[field];
      if (!Array.isArray(value) || !Array.isArray(current) || !value.every((e) => typeof (e as { unique_id?: unknown })?.unique_id === 'string')) continue;
      const entries = [...(current as Array<Record<string, unknown>>)];
      for (const entry of value as Array<Record<string, unknown>>) {
        const at = entries.findIndex((e) => e.unique_id === entry.unique_id);
        if (at >= 0) entries[at] = { ...entries[at], ...entry };
        else entries.push(entry);
      }
      merged[field] = entries;
    }
    Object.assign(c, merged, { last_updated_at: this.now() });
  }

  /** What a caseworker does in Primero's UI: add a note to the case's notes subform (fires case.update). */
  async addNote(caseId: string, author: string, subject: string, text: string): Promise<string> {
    const c = this.cases.get(caseId)!;
    const uniqueId = randomUUID();
    this.update(c, { notes_section: [{ unique_id: uniqueId, note_subject: subject, note_text: text, note_date: new Date().toISOString().slice(0, 10), note_created_by: author }] });
    await this.emit(c);
    return uniqueId;
  }

  /** The notes on a case, as a caseworker reads them. */
  notesOf(caseId: string): Array<Record<string, unknown>> {
    return ((this.cases.get(caseId)?.notes_section as Array<Record<string, unknown>> | undefined) ?? []).slice();
  }

  /** Primero's webhook: flat record data, no event name, no retries. */
  private async emit(c: SandboxCase): Promise<void> {
    if (!this.webhook) return;
    const body = JSON.stringify({ data: { record_id: c.id, record_type: 'case', hostname: 'sandbox', ...c } });
    await fetch(this.webhook.url, { method: 'POST', headers: { 'Content-Type': 'application/json', 'x-api-key': this.webhook.apiKey, 'cache-control': 'no-cache' }, body }).catch(() => undefined);
  }
}
