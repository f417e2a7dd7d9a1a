import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import webpush from 'web-push';
import { scrapeMetrics, startGateway, uniquePrefix, webPushEnv } from '../support/gateway';

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
  targets?: Array<{ refId?: string; expr?: string; datasource?: { uid?: string } }>;
}
const dashboardFiles = () => readdirSync(GRAFANA_DIR).filter((f) => f.endsWith('.json'));
const dashboard = (file: string) => JSON.parse(readFileSync(path.join(GRAFANA_DIR, file), 'utf8')) as { uid: string; panels: Panel[]; templating: { list: Array<{ name: string; type: string; query: string }> } };
const dashboardExprs = () => dashboardFiles().flatMap((f) => dashboard(f).panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `${f}: ${p.title}`, expr: t.expr ?? '' }))));
const shippedExprs = () => [...alertRules(readFileSync(path.join(PROMETHEUS_DIR, 'alerts.yml'), 'utf8')).map((r) => ({ where: `alerts.yml: ${r.alert}`, expr: r.expr })), ...dashboardExprs()];

/** Counters the workers keep in Redis appear on /metrics only once counted: their names are read from the code that counts them. */
function sharedCounterNames(): string[] {
  const files = (dir: string): string[] => readdirSync(dir).flatMap((f) => (statSync(path.join(dir, f)).isDirectory() ? files(path.join(dir, f)) : f.endsWith('.ts') ? [path.join(dir, f)] : []));
  const source = ['src', 'workers'].flatMap((d) => files(path.join(ROOT, d))).map((f) => readFileSync(f, 'utf8')).join('\n');
  return [...source.matchAll(/\.increment\(\s*'(gateway_[a-z0-9_]+)'/g)].map((m) => m[1]!);
}

/** Every family a gateway with push on renders (a histogram's series with its suffixes). */
function familyNames(metricsText: string): string[] {
  return [...metricsText.matchAll(/^# TYPE (\S+) (\S+)$/gm)].flatMap(([, name, type]) => (type === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name!]));
}

describe('the monitoring that ships (deploy/)', () => {
  let rendered: string[];
  let exported: Set<string>;

  beforeAll(async () => {
    const gw = await startGateway({ prefix: uniquePrefix('monitoring'), env: webPushEnv(webpush.generateVAPIDKeys()), workers: false });
    try {
      rendered = familyNames(await scrapeMetrics(gw));
    } finally {
      await gw.close();
    }
    exported = new Set([...rendered, ...sharedCounterNames(), ...PROMETHEUS_OWN]);
  });

  it('reads every alert rule and every dashboard query, and each names a metric', () => {
    const rules = alertRules(readFileSync(path.join(PROMETHEUS_DIR, 'alerts.yml'), 'utf8'));
    expect(rules.length).toBe((readFileSync(path.join(PROMETHEUS_DIR, 'alerts.yml'), 'utf8').match(/^\s*- alert:/gm) ?? []).length);
    expect(rules.map((r) => r.alert)).toEqual(expect.arrayContaining(['GatewayDeadLettersPresent', 'GatewayDeadLettersGrowing', 'GatewayDeadLetterOlderThanADay', 'GatewayBacklogOld', 'GatewayDestinationPaused', 'GatewayNoMessagesInWorkingHours', 'GatewayNotReady']));
    expect(shippedExprs().filter((e) => metricNames(e.expr).length === 0)).toEqual([]);
  });

  it('names only metrics the gateway exports', () => {
    const unknown = shippedExprs().flatMap((e) => metricNames(e.expr).filter((n) => !exported.has(n)).map((n) => `${e.where}: ${n}`));
    expect(unknown).toEqual([]);
  });

  it('would catch a misspelt metric name', () => {
    expect(metricNames('max by (queue) (gateway_dead_leters{queue!~"a|b"}) > 0 and on () (hour() >= 9)').filter((n) => !exported.has(n))).toEqual(['gateway_dead_leters']);
    expect(metricNames('histogram_quantile(0.99, sum by (le) (rate(gateway_ack_latency_seconds_bucket[$__rate_interval])))')).toEqual(['gateway_ack_latency_seconds_bucket']);
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
// CI installs it (.ci/run): there a missing promtool is a failure, never a skipped check.
if (!promtool && process.env.CI) throw new Error('promtool is not installed (apt-get install --no-install-recommends prometheus)');
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
