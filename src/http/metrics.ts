import type { Queue } from 'bullmq';
import type { RequestHandler } from 'express';
import type { ServerResponse } from 'node:http';
import { Counter, Histogram, Registry } from 'prom-client';
import { CHANNEL_NAMES } from '../channels/index';
import { PUSH_SERVICE_FAMILIES } from '../clients/push-service-family';
import { SCHEDULED_QUEUES, settlesMaybeSent } from '../queues/jobs';
import type { Overview, OverviewReader } from '../admin/overview-types';
import { overviewLines } from '../admin/overview-metrics';
import type { Logger } from '../logger';
import type { SharedCounters } from '../store/counters';

/** The label values a webhook path may become: every channel, and Primero's own webhook. */
const CHANNELS: ReadonlySet<string> = new Set([...CHANNEL_NAMES, 'primero']);

/** What a webhook route marks on its response for the webhook metrics (express's res.locals, or the fast path's own). */
export interface WebhookMarks {
  duplicate?: unknown;
  statusQuery?: unknown;
}

/** How long one overview read serves scrapes: its scans and lookups are the dearest part of a scrape. */
export const OVERVIEW_MAX_AGE_MS = 10_000;

/**
 * Prometheus metrics. Labels are channels, outcomes, queue names and status classes: nothing that could
 * carry a person's data. Process-local figures (requests, latency) live in prom-client; figures workers
 * add to from other processes (jobs, outbound calls) are read from Redis at scrape time.
 */
type Series = Array<{ labels: Record<string, string>; value: number }>;

/** Counted per queue whose messages to a person settle as "not confirmed" (src/replies/send-once.ts). */
const NOT_CONFIRMED = 'gateway_messages_not_confirmed_total';
/** Counted per push service and status (401/403) by the push worker; with push on, every pair is rendered. */
const VAPID_REFUSED = 'gateway_push_vapid_refused_total';
const VAPID_REFUSED_LABELS = PUSH_SERVICE_FAMILIES.flatMap((service) => ['401', '403'].map((status) => ({ service, status })));

/**
 * Renders a counter at 0 for each label set before its first count: an alert on its increase() then sees the first
 * one (a series that appears at 1 has no increase to Prometheus).
 */
function withZeroes(byName: Map<string, Series>, name: string, labelSets: Array<Record<string, string>>): void {
  const series = byName.get(name) ?? [];
  const same = (a: Record<string, string>, b: Record<string, string>) => Object.keys(b).length === Object.keys(a).length && Object.entries(b).every(([k, v]) => a[k] === v);
  for (const labels of labelSets) if (!series.some((s) => same(s.labels, labels))) series.push({ labels, value: 0 });
  if (series.length) byName.set(name, series);
}

export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly received: Counter<'channel' | 'outcome'>;
  private readonly statusQueries: Counter<'channel' | 'outcome'>;
  private readonly latency: Histogram<'channel'>;
  private readonly simulated: Counter<'channel' | 'intent'>;
  private overviewRead: { at: number; value: Promise<Overview> } | null = null;

  constructor(
    private readonly queues: Queue[],
    private readonly shared: SharedCounters,
    /** With push on: counts devices close to expiry (a count only, never a user name). */
    private readonly devices: { expiringCount(): Promise<number> } | null = null,
    /** The operator overview's destination states and backlogs: one reading for the console, the CLI and the alerts. */
    private readonly overview: OverviewReader | null = null,
    /** Where a failed overview read is said, once per run of failures (the GatewayOverviewUnreadable runbook sends operators here). */
    private readonly logger: Pick<Logger, 'warn'> | null = null,
  ) {
    this.received = new Counter({ name: 'gateway_messages_received_total', help: 'Inbound webhook requests by channel and outcome', labelNames: ['channel', 'outcome'], registers: [this.registry] });
    // A status query reads and stores nothing: counted as a received message it would hide a quiet intake.
    this.statusQueries = new Counter({ name: 'gateway_status_queries_total', help: 'Status look-ups (POST /webhooks/rapidpro/status) by channel and outcome: read only, not received messages', labelNames: ['channel', 'outcome'], registers: [this.registry] });
    // Any holder of the webhook token can claim to be RapidPro's simulator, and a simulated call stores nothing:
    // a rise here outside flow editing is real messages being dropped.
    this.simulated = new Counter({ name: 'gateway_simulated_total', help: 'Webhook calls marked X-Mailroom-Mode: simulation (answered, nothing stored)', labelNames: ['channel', 'intent'], registers: [this.registry] });
    this.latency = new Histogram({
      name: 'gateway_ack_latency_seconds',
      help: 'Time from request to acknowledgement on inbound webhooks',
      labelNames: ['channel'],
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [this.registry],
    });
  }

  /**
   * Counts and times every /webhooks/<channel>/… request once its answer is sent, from its path and its response
   * (`locals`, read at the finish, carries what the route marked: `duplicate`, `statusQuery`). False for any other
   * path. Label children are made once per channel and outcome: resolving labels on every request showed up on the
   * ingest path.
   */
  webhookWatcher(): (path: string, res: ServerResponse, locals: WebhookMarks) => boolean {
    const timers = new Map<string, ReturnType<Histogram<'channel'>['labels']>>();
    const counters = new Map<string, ReturnType<Counter<'channel' | 'outcome'>['labels']>>();
    const timer = (channel: string) => timers.get(channel) ?? timers.set(channel, this.latency.labels({ channel })).get(channel)!;
    const counter = (channel: string, outcome: string) => {
      const key = `${channel}|${outcome}`;
      return counters.get(key) ?? counters.set(key, this.received.labels({ channel, outcome })).get(key)!;
    };
    return (path, res, locals) => {
      // Only the known channels become label values: a path is caller input, and every new label is kept forever.
      const named = /^\/webhooks\/([a-z]+)/.exec(path)?.[1];
      if (!named) return false;
      const channel = CHANNELS.has(named) ? named : 'unknown';
      const started = process.hrtime.bigint();
      res.once('finish', () => {
        const s = res.statusCode;
        const failed = s === 503 ? 'unavailable' : s === 404 ? 'not_found' : s < 500 ? 'rejected' : 'error';
        // Marked by its route (res.locals.statusQuery) before the token check, so a refused look-up is one too.
        if (locals.statusQuery === true) return void this.statusQueries.labels({ channel, outcome: s < 300 ? 'answered' : failed }).inc();
        timer(channel).observe(Number(process.hrtime.bigint() - started) / 1e9);
        counter(channel, s < 300 ? (locals.duplicate === true ? 'duplicate' : 'accepted') : failed).inc();
      });
      return true;
    };
  }

  observeWebhooks(): RequestHandler {
    const watch = this.webhookWatcher();
    // Named: test/integration/fast-path-middleware.test.ts lists the middleware the fast routes stand in for by name.
    return function observeWebhooks(req, res, next) {
      watch(req.path, res, res.locals);
      next();
    };
  }

  /** `intent` is the route's own (one of the configured intents), never caller input. */
  countSimulated(channel: string, intent: string): void {
    this.simulated.labels({ channel, intent }).inc();
  }

  /**
   * Dead letters wait for an operator (nothing purges them): how many, and how long the oldest has waited,
   * per message queue, so an alert can fire on a letter nobody reviewed. `failed` is the render's own count.
   */
  private async deadLetterLines(failed: ReadonlyMap<string, number>): Promise<string[]> {
    const count = ['# HELP gateway_dead_letters Dead letters awaiting replay or discard', '# TYPE gateway_dead_letters gauge'];
    const age = ['# HELP gateway_dead_letter_oldest_age_seconds Age of the oldest dead letter (0 when there is none)', '# TYPE gateway_dead_letter_oldest_age_seconds gauge'];
    const now = Date.now();
    for (const q of this.queues) {
      if (SCHEDULED_QUEUES.has(q.name)) continue;
      const [oldest] = await q.getJobs(['failed'], 0, 0, true);
      count.push(`gateway_dead_letters{queue="${q.name}"} ${failed.get(q.name) ?? 0}`);
      age.push(`gateway_dead_letter_oldest_age_seconds{queue="${q.name}"} ${oldest ? Math.max(0, Math.round((now - (oldest.finishedOn ?? oldest.timestamp)) / 1000)) : 0}`);
    }
    return [...count, ...age];
  }

  /** The error of the run of failed overview reads under way (null while reads succeed): said when it starts, changes and ends. */
  private overviewFailure: string | null = null;

  /**
   * The overview, read at most once per OVERVIEW_MAX_AGE_MS however many scrapers (an HA Prometheus pair)
   * ask; concurrent scrapes share one read. A failed read is not kept: the next scrape tries again.
   */
  private readOverview(reader: OverviewReader): Promise<Overview> {
    const now = Date.now();
    if (this.overviewRead && now - this.overviewRead.at < OVERVIEW_MAX_AGE_MS) return this.overviewRead.value;
    const value = reader.read();
    const read = { at: now, value };
    this.overviewRead = read;
    value.catch(() => {
      if (this.overviewRead === read) this.overviewRead = null;
    });
    return value;
  }

  /** The overview's series, or none and gateway_overview_ok 0: an overview fault must not fail the whole scrape. */
  private async overviewSection(reader: OverviewReader): Promise<string[]> {
    const ok = ['# HELP gateway_overview_ok 1 when this scrape has the operator overview (one read serves scrapes for 10 s), 0 when reading it failed', '# TYPE gateway_overview_ok gauge'];
    try {
      const lines = overviewLines(await this.readOverview(reader));
      if (this.overviewFailure !== null) this.logger?.warn({}, 'the operator overview is readable again for /metrics');
      this.overviewFailure = null;
      return [...ok, 'gateway_overview_ok 1', ...lines];
    } catch (err) {
      // The message only: an overview is counts and states read from Redis, its errors name no person.
      const error = err instanceof Error ? err.message : String(err);
      if (error !== this.overviewFailure) this.logger?.warn({ error }, 'the operator overview could not be read for /metrics');
      this.overviewFailure = error;
      return [...ok, 'gateway_overview_ok 0'];
    }
  }

  async render(): Promise<string> {
    const lines: string[] = [];
    const failed = new Map<string, number>();
    lines.push('# HELP gateway_queue_jobs Jobs per queue and state (failed = dead letters)', '# TYPE gateway_queue_jobs gauge');
    for (const q of this.queues) {
      const counts = await q.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed', 'prioritized');
      failed.set(q.name, counts.failed ?? 0);
      for (const [state, n] of Object.entries(counts)) lines.push(`gateway_queue_jobs{queue="${q.name}",state="${state}"} ${n}`);
    }
    lines.push(...(await this.deadLetterLines(failed)));
    if (this.overview) lines.push(...(await this.overviewSection(this.overview)));
    if (this.devices) {
      lines.push('# HELP gateway_push_devices_expiring Push devices that expire within 14 days (or half PUSH_SUBSCRIPTION_TTL_DAYS) unless a notification reaches them', '# TYPE gateway_push_devices_expiring gauge');
      lines.push(`gateway_push_devices_expiring ${await this.devices.expiringCount()}`);
    }
    const byName = new Map<string, Series>();
    for (const c of await this.shared.all()) byName.set(c.name, [...(byName.get(c.name) ?? []), c]);
    withZeroes(byName, NOT_CONFIRMED, this.queues.filter((q) => settlesMaybeSent(q.name)).map((q) => ({ queue: q.name })));
    if (this.devices) withZeroes(byName, VAPID_REFUSED, VAPID_REFUSED_LABELS);
    for (const [name, series] of byName) {
      lines.push(`# HELP ${name} Counted by every gateway process`, `# TYPE ${name} counter`);
      for (const { labels, value } of series) {
        const text = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, '_')}"`).join(',');
        lines.push(`${name}{${text}} ${value}`);
      }
    }
    return `${await this.registry.metrics()}\n${lines.join('\n')}\n`;
  }
}
