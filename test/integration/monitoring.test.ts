import { execFileSync, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import nock from 'nock';
import request from 'supertest';
import webpush from 'web-push';
import { QUEUES } from '../../src/queues/names';
import { eventually } from '../support/eventually';
import { expectNoPersonalData } from '../support/personal-data';
import { scrapeMetrics, startGateway, uniquePrefix, webPushEnv, WEBHOOK_TOKEN } from '../support/gateway';
import { PRIMERO, RecordingPrimero } from '../support/primero-fake';

const ROOT = path.join(__dirname, '..', '..');
const PROMETHEUS_DIR = path.join(ROOT, 'deploy', 'prometheus');
const GRAFANA_DIR = path.join(ROOT, 'deploy', 'grafana');

/** Written by Prometheus itself for every target, not by the gateway. */
const PROMETHEUS_OWN = ['up'];

const PROMQL_KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'offset', 'bool', 'atan2']);

/** The metric names a PromQL expression selects: what is left once strings, matchers, ranges, label lists and functions are gone. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\{?\w+\}?/g, ' ');
  const names = [...bare.matchAll(/\b([a-zA-Z_:][\w:]*)\b(?!\s*\()/g)].map((m) => m[1]!);
  return [...new Set(names.filter((n) => !PROMQL_KEYWORDS.has(n)))];
}

/**
 * Each rule of alerts.yml as its alert name and expression. The file's own layout is read (one `- alert:` line,
 * then `expr:` on one line or as a `|` block): there is no YAML parser among the dependencies, and promtool,
 * below, checks that the file is valid YAML and valid rules.
 */
function alertRules(text: string): Array<{ alert: string; expr: string }> {
  const rules: Array<{ alert: string; expr: string }> = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    const alert = /^\s*- alert:\s*(\S+)/.exec(line)?.[1];
    if (alert) rules.push({ alert, expr: '' });
    const expr = /^(\s*)expr:\s*(.*)$/.exec(line);
    if (!expr || !rules.length) return;
    const block: string[] = [];
    if (expr[2] === '|' || expr[2] === '>') {
      for (let j = i + 1; j < lines.length && (lines[j]!.trim() === '' || lines[j]!.search(/\S/) > expr[1]!.length); j++) block.push(lines[j]!);
    } else block.push(expr[2]!);
    rules[rules.length - 1]!.expr = block.join('\n').trim();
  });
  return rules;
}

interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  datasource?: { type?: string; uid?: string };
  targets?: Array<{ refId?: string; expr?: string; legendFormat?: string; datasource?: { uid?: string } }>;
}
const dashboardFiles = () => readdirSync(GRAFANA_DIR).filter((f) => f.endsWith('.json'));
const dashboard = (file: string) => JSON.parse(readFileSync(path.join(GRAFANA_DIR, file), 'utf8')) as { uid: string; panels: Panel[]; templating: { list: Array<{ name: string; type: string; query: string }> } };
const dashboardExprs = () => dashboardFiles().flatMap((f) => dashboard(f).panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `${f}: ${p.title}`, expr: t.expr ?? '', legend: t.legendFormat ?? '' }))));
const shippedExprs = () => [...alertRules(readFileSync(path.join(PROMETHEUS_DIR, 'alerts.yml'), 'utf8')).map((r) => ({ where: `alerts.yml: ${r.alert}`, expr: r.expr, legend: '' })), ...dashboardExprs()];

/** Label values a family takes that the messages sent below do not produce (no push is sent here). */
const NOT_RENDERED_HERE: Record<string, Record<string, string[]>> = {
  gateway_outbound_calls_total: { service: ['push'] },
};

/** Every label name, and the values seen, of each series name the page renders (a histogram's _bucket, _sum, _count apart). */
type Rendered = Map<string, Map<string, Set<string>>>;
function renderedSeries(metricsText: string): Rendered {
  const rendered: Rendered = new Map();
  for (const line of metricsText.split('\n')) {
    const sample = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? \S+$/.exec(line);
    if (!sample) continue;
    const labels = rendered.get(sample[1]!) ?? rendered.set(sample[1]!, new Map()).get(sample[1]!)!;
    for (const [, name, value] of (sample[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) (labels.get(name!) ?? labels.set(name!, new Set()).get(name!)!).add(value!);
  }
  return rendered;
}

/** Labels Prometheus adds to every scraped series. */
const TARGET_LABELS = new Set(['job', 'instance']);

/** A value a label of a family may take: one rendered, any queue's name for `queue`, or one declared above. */
function plausible(rendered: Rendered, family: string, label: string, value: string): boolean {
  if (label === 'queue' && (Object.values(QUEUES) as string[]).includes(value)) return true;
  return Boolean(rendered.get(family)?.get(label)?.has(value) || NOT_RENDERED_HERE[family]?.[label]?.includes(value));
}

/**
 * What is wrong with the labels of one expression against the rendered page: a matcher naming a label the family
 * lacks or a value it never takes (each alternative of an `a|b` regex), and a by/without/on/ignoring label or a
 * legend's {{label}} that none of the expression's families carries.
 */
function labelFaults(expr: string, rendered: Rendered, legend = ''): string[] {
  const faults: string[] = [];
  const families = metricNames(expr).filter((n) => rendered.has(n));
  for (const [, family, matchers] of expr.matchAll(/([a-zA-Z_:][\w:]*)\s*\{([^}]*)\}/g)) {
    const labels = rendered.get(family!);
    if (!labels) continue;
    for (const [, label, op, value] of matchers!.matchAll(/(\w+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"/g)) {
      if (TARGET_LABELS.has(label!)) continue;
      if (!labels.has(label!)) faults.push(`${family}{${label}}: no such label`);
      else for (const v of op!.endsWith('~') ? value!.split('|') : [value!]) if (!plausible(rendered, family!, label!, v)) faults.push(`${family}{${label}${op}"${v}"}: never rendered`);
    }
  }
  const grouped = [...expr.matchAll(/\b(?:by|without|on|ignoring)\s*\(([^)]*)\)/g)].flatMap((m) => m[1]!.split(',').map((l) => l.trim()).filter(Boolean));
  const legends = [...legend.matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1]!);
  for (const label of new Set([...grouped, ...legends])) {
    if (!TARGET_LABELS.has(label) && !families.some((f) => rendered.get(f)!.has(label))) faults.push(`${label}: on none of ${families.join(', ')}`);
  }
  return faults;
}

const RAPIDPRO = 'http://rapidpro-monitoring.test';
const FLOW = 'a758539d-c2da-4c70-87f9-6b002084c35f';
const referral = () => ({
  contact: { uuid: randomUUID(), urn: 'tel:+254700555666', language: 'eng' },
  flow: { uuid: randomUUID(), name: 'Primero Gateway Referral' },
  run: { uuid: randomUUID() },
  results: { name: { value: 'Wanjiru', category: 'All Responses' }, consent: { value: 'yes', category: 'Yes' } },
});

/**
 * The page a running gateway renders once it has handled what the rules and panels watch: a message that became a
 * case, one Primero refused (a dead letter), a simulator call, and a notify flow that is no background flow (a
 * configuration fault that pauses RapidPro).
 */
async function metricsAfterRealTraffic(): Promise<string> {
  nock.disableNetConnect();
  nock.enableNetConnect(/127\.0\.0\.1|localhost/);
  nock(RAPIDPRO).persist().get('/api/v2/flows.json').query({ uuid: FLOW }).reply(200, { next: null, previous: null, results: [{ uuid: FLOW, name: 'Primero Gateway Case Update', type: 'message', archived: false }] });
  const primero = new RecordingPrimero(PRIMERO);
  const env = { ...webPushEnv(webpush.generateVAPIDKeys()), RAPIDPRO_URL: RAPIDPRO, RAPIDPRO_TOKEN: 'rapidpro-api-token-2', RAPIDPRO_NOTIFY_FLOW_UUID: FLOW, AUTH_FAILURE_PAUSE_MS: '60000', PRIMERO_POLL_INTERVAL_SECONDS: '0' };
  const gw = await startGateway({ prefix: uniquePrefix('monitoring'), env });
  try {
    const post = (headers: Record<string, string> = {}) => request(gw.app).post('/webhooks/rapidpro/referral').set({ Authorization: `Token ${WEBHOOK_TOKEN}`, ...headers }).type('json').send(JSON.stringify(referral()));
    const stored = (await post()).body as { reference: string };
    await eventually(async () => (await gw.queue.getJobState(`m-${stored.reference}`)) === 'completed');
    primero.refuseCreates = 1;
    const refused = (await post()).body as { reference: string };
    await eventually(async () => (await gw.queue.getJobState(`m-${refused.reference}`)) === 'failed');
    expect((await post({ 'X-Mailroom-Mode': 'simulation' })).status).toBe(202);
    await gw.services.notifications.rapidpro!.notify({ urn: 'tel:+254700555666', reference: 'K7M2P9QA', status: 'received' }, 'k-K7M2P9QA');
    return await eventually(async () => {
      const page = await scrapeMetrics(gw);
      return page.includes('gateway_configuration_faults_total{') ? page : undefined;
    });
  } finally {
    await gw.close();
    nock.cleanAll();
    nock.enableNetConnect();
  }
}

describe('the monitoring that ships (deploy/)', () => {
  let page: string;
  let rendered: Rendered;
  let exported: Set<string>;

  beforeAll(async () => {
    page = await metricsAfterRealTraffic();
    rendered = renderedSeries(page);
    exported = new Set([...rendered.keys(), ...PROMETHEUS_OWN]);
  }, 60_000);

  it('reads every alert rule and every dashboard query, and each names a metric', () => {
    const rules = alertRules(readFileSync(path.join(PROMETHEUS_DIR, 'alerts.yml'), 'utf8'));
    expect(rules.length).toBe((readFileSync(path.join(PROMETHEUS_DIR, 'alerts.yml'), 'utf8').match(/^\s*- alert:/gm) ?? []).length);
    expect(rules.map((r) => r.alert)).toEqual(expect.arrayContaining(['GatewayDeadLettersPresent', 'GatewayDeadLettersGrowing', 'GatewayDeadLetterOlderThanADay', 'GatewayBacklogOld', 'GatewayDestinationPaused', 'GatewayDestinationWaiting', 'GatewayNoMessagesInWorkingHours', 'GatewayNotReady', 'GatewayOverviewUnreadable', 'GatewayPushVapidRefused']));
    expect(shippedExprs().filter((e) => metricNames(e.expr).length === 0)).toEqual([]);
  });

  it('names only metrics a running gateway renders', () => {
    const unknown = shippedExprs().flatMap((e) => metricNames(e.expr).filter((n) => !exported.has(n)).map((n) => `${e.where}: ${n}`));
    expect(unknown).toEqual([]);
  });

  it('matches, groups and labels legends only by labels those metrics carry, with values they take', () => {
    const faults = shippedExprs().flatMap((e) => labelFaults(e.expr, rendered, e.legend).map((f) => `${e.where}: ${f}`));
    expect(faults).toEqual([]);
  });

  it('renders no personal data of the messages it counted', () => {
    expectNoPersonalData(page, ['254700555666', 'Wanjiru']);
  });

  it('would catch a misspelt metric name, a label the family lacks, a value it never takes and a wrong grouping', () => {
    expect(metricNames('max by (queue) (gateway_dead_leters{queue!~"a|b"}) > 0 and on () (hour() >= 9)').filter((n) => !exported.has(n))).toEqual(['gateway_dead_leters']);
    expect(metricNames('histogram_quantile(0.99, sum by (le) (rate(gateway_ack_latency_seconds_bucket[$__rate_interval])))')).toEqual(['gateway_ack_latency_seconds_bucket']);
    expect(labelFaults('max by (queue) (gateway_dead_letters{state="failed"})', rendered)).toEqual(['gateway_dead_letters{state}: no such label']);
    expect(labelFaults('sum(increase(gateway_jobs_total{outcome="faild",queue!~"intake|primero_poll"}[1h]))', rendered)).toEqual(['gateway_jobs_total{outcome="faild"}: never rendered', 'gateway_jobs_total{queue!~"primero_poll"}: never rendered']);
    expect(labelFaults('sum by (chanel) (rate(gateway_messages_accepted_total[5m]))', rendered, '{{outcome}}')).toEqual(['chanel: on none of gateway_messages_accepted_total', 'outcome: on none of gateway_messages_accepted_total']);
    expect(labelFaults('histogram_quantile(0.5, sum by (le) (rate(gateway_ack_latency_seconds_bucket[5m])))', rendered, '{{instance}}')).toEqual([]);
  });
  it("every alert has a severity, a summary and a one-line runbook", () => {
    const text = readFileSync(path.join(PROMETHEUS_DIR, 'alerts.yml'), 'utf8');
    const sections = text.split(/^\s*- alert:/m).slice(1);
    for (const section of sections) {
      expect(section).toMatch(/^\s*severity: (warning|critical)$/m);
      expect(section).toMatch(/^\s*summary: ".+"$/m);
      expect(section).toMatch(/^\s*runbook: ".+"$/m);
    }
  });

  it('the dashboard is valid: one uid each, unique panel ids, every panel on the ${datasource} variable with queries', () => {
    const files = dashboardFiles();
    expect(files).toEqual(['gateway.json']);
    expect(new Set(files.map((f) => dashboard(f).uid)).size).toBe(files.length);
    for (const file of files) {
      const { panels, templating } = dashboard(file);
      expect(templating.list).toContainEqual(expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' }));
      expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
      const faults = panels.flatMap((p) => {
        const targets = p.targets ?? [];
        const problems = [
          p.datasource?.uid !== '${datasource}' && 'panel datasource is not ${datasource}',
          !p.description && 'no description',
          targets.length === 0 && 'no targets',
          targets.some((t) => !t.expr || t.datasource?.uid !== '${datasource}') && 'a target without expr or datasource',
          new Set(targets.map((t) => t.refId)).size !== targets.length && 'refIds repeat',
        ];
        return problems.filter(Boolean).map((problem) => `${p.title}: ${problem}`);
      });
      expect(faults).toEqual([]);
    }
  });
});

const promtool = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0;
// CI installs it and sets REQUIRE_PROMTOOL=1 (.ci/run): there a missing promtool is a failure, never a skipped check.
if (!promtool && process.env.REQUIRE_PROMTOOL === '1') throw new Error('promtool is not installed (apt-get install --no-install-recommends prometheus)');
if (!promtool) process.stderr.write('\npromtool is not installed: the promtool checks of deploy/prometheus are skipped (apt-get install --no-install-recommends prometheus)\n');

(promtool ? describe : describe.skip)('deploy/prometheus in promtool', () => {
  const run = (args: string[], cwd = PROMETHEUS_DIR) => execFileSync('promtool', args, { cwd, encoding: 'utf8', stdio: 'pipe' });

  it('loads the rules', () => {
    expect(run(['check', 'rules', 'alerts.yml'])).toMatch(/SUCCESS/);
  });

  it('loads the configuration, with the rules beside it and a token file where the compose secret will be', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'prometheus-'));
    try {
      const config = readFileSync(path.join(PROMETHEUS_DIR, 'prometheus.yml'), 'utf8');
      expect(config).toContain('credentials_file: /run/secrets/admin_token');
      writeFileSync(path.join(dir, 'admin_token'), 'a-token');
      writeFileSync(path.join(dir, 'prometheus.yml'), config.replace('/run/secrets/admin_token', path.join(dir, 'admin_token')));
      writeFileSync(path.join(dir, 'alerts.yml'), readFileSync(path.join(PROMETHEUS_DIR, 'alerts.yml')));
      expect(run(['check', 'config', 'prometheus.yml'], dir)).toMatch(/SUCCESS: 1 rule files found/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fires the tested alerts at their thresholds and not before (alerts.test.yml)', () => {
    expect(run(['test', 'rules', 'alerts.test.yml'])).toMatch(/SUCCESS/);
  });
});
