import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import webpush from 'web-push';
import { buildApiServices } from '../src/api-services';
import { createApp } from '../src/app';
import { loadConfig, type Config } from '../src/config';
import { loadKeywordTable } from '../src/keyword-table';
import { createLogger } from '../src/logger';
import { loadMappings } from '../src/mappings';
import { createRedis, waitForRedis } from '../src/queues/connection';
import { deleteByPrefix } from '../src/store/keys';
import { startWorkers } from '../workers/run-worker';
import { FakePushService } from './sandbox/push-service';
import { PrimeroSandbox } from './sandbox/primero';
import { RapidProSandbox } from './sandbox/rapidpro';
import { PrivateRedis } from './sandbox/redis-server';
import { REPLY_FLOW, twoWaySteps, type TwoWayReport } from './two-way';

const ROOT = path.join(__dirname, '..');
const FLOWS = path.join(ROOT, 'flows');
const NOTIFY_FLOW = 'a3b1c2d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d';

export interface DemoOptions {
  /** Use this Redis (with a private prefix, wiped at the end) instead of starting redis-server. */
  redisUrl?: string;
  prefix?: string;
  interactive?: boolean;
  say?: (line: string) => void;
}

export interface DemoReport {
  referral: { reference: string; caseId: string; caseIdDisplay: string };
  complaint: { reference: string; caseId: string };
  duplicate: { reference: string; duplicate: boolean; primeroCasesBefore: number; primeroCasesAfter: number };
  outage: { reference: string; caseId: string; failedCalls: number };
  pushes: Array<{ device: string; title: string; body: string; url: string }>;
  twoWay: TwoWayReport;
  primero: PrimeroSandbox;
  rapidpro: RapidProSandbox;
  push: FakePushService;
  prefix: string;
  redisUrl: string;
}

class DemoStepError extends Error {}

async function until<T>(what: string, check: () => T | undefined | null | false | Promise<T | undefined | null | false>, ms = 15000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new DemoStepError(`the demo expected ${what}, and it did not happen within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function redisServerAvailable(): boolean {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * The whole loop on one machine: the real gateway (API and workers, real code paths, real Redis) wired by
 * ordinary configuration to sandboxes that speak Primero's, RapidPro's and a push service's contracts.
 */
export async function runDemo(opts: DemoOptions = {}): Promise<DemoReport> {
  const say = opts.say ?? ((line: string) => console.log(line));
  const prefix = opts.prefix ?? `demo-${randomBytes(4).toString('hex')}`;
  let privateRedis: PrivateRedis | null = null;
  let redisUrl = opts.redisUrl;
  if (!redisUrl) {
    if (!redisServerAvailable()) {
      throw new DemoStepError('the demo needs Redis. Install it with `sudo apt-get install redis-server` (or `docker compose up -d redis` and run with DEMO_REDIS_URL=redis://127.0.0.1:6379), then run `npm run demo` again.');
    }
    privateRedis = await PrivateRedis.start();
    redisUrl = privateRedis.url;
    say(`• Started a private redis-server for the demo on ${redisUrl}.`);
  }

  const secrets = { webhook: randomBytes(12).toString('hex'), primeroKey: randomBytes(12).toString('hex'), admin: randomBytes(16).toString('hex'), at: randomBytes(12).toString('hex'), rapidpro: randomBytes(12).toString('hex') };
  const vapid = webpush.generateVAPIDKeys();
  const primeroUser = 'sms_gateway';
  const primeroPassword = randomBytes(9).toString('base64url');

  // The gateway's HTTP server first, so the Primero sandbox knows where to send its webhooks.
  const holder: { server?: Server } = {};
  const gatewayPort = await new Promise<number>((resolve) => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1', () => {
      const port = (probe.address() as AddressInfo).port;
      probe.close(() => resolve(port));
    });
  });
  const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
  const primero = new PrimeroSandbox(primeroUser, primeroPassword, { url: `${gatewayUrl}/webhooks/primero`, apiKey: secrets.primeroKey });
  const rapidpro = new RapidProSandbox(secrets.rapidpro);
  const push = await FakePushService.start(vapid.publicKey);
  await primero.start();
  await rapidpro.start();

  const parsed = loadConfig({
    PORT: String(gatewayPort),
    LOG_LEVEL: 'silent',
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: prefix,
    PUBLIC_URL: gatewayUrl,
    MAPPING_DIR: FLOWS,
    PRIMERO_URL: primero.url,
    PRIMERO_USER: primeroUser,
    PRIMERO_PASSWORD: primeroPassword,
    PRIMERO_WEBHOOK_API_KEY: secrets.primeroKey,
    PRIMERO_POLL_INTERVAL_SECONDS: '0',
    RAPIDPRO_WEBHOOK_TOKEN: secrets.webhook,
    AFRICASTALKING_WEBHOOK_TOKEN: secrets.at,
    RAPIDPRO_URL: rapidpro.url,
    RAPIDPRO_TOKEN: secrets.rapidpro,
    RAPIDPRO_NOTIFY_FLOW_UUID: NOTIFY_FLOW,
    RAPIDPRO_REPLY_FLOW_UUID: REPLY_FLOW,
    VAPID_PUBLIC_KEY: vapid.publicKey,
    VAPID_PRIVATE_KEY: vapid.privateKey,
    VAPID_SUBJECT: 'mailto:demo@example.org',
    // The sandbox push service is on this machine: only a host named here may be plain http on a local address.
    PUSH_ENDPOINT_HOSTS: new URL(push.origin).host,
    PUSH_TRIAGE_USERS: 'triage_officer',
    ADMIN_TOKEN: secrets.admin,
    DATA_KEY: randomBytes(32).toString('base64'),
    RETRY_BASE_MS: '300',
    RETRY_MAX_MS: '1000',
  });
  if (!parsed.ok) throw new Error(parsed.problems.join('\n'));
  const config: Config = parsed.config;
  const logger = createLogger('silent');
  const mappings = loadMappings(FLOWS);
  const redis = createRedis(redisUrl, 'producer');
  redis.on('error', () => undefined);
  await waitForRedis(redis, 5000);
  const services = buildApiServices(config, redis, logger, loadKeywordTable(path.join(FLOWS, 'keywords.json')), mappings);
  const app = createApp({ config, logger, redis, services, intents: [...mappings.keys()] });
  holder.server = app.listen(gatewayPort, '127.0.0.1');
  await new Promise((r) => holder.server!.once('listening', r));
  const workers = startWorkers(config, logger, mappings);
  say(`• The gateway is running on ${gatewayUrl} (API and workers), talking to sandboxes: Primero ${primero.url}, RapidPro ${rapidpro.url}, push service ${push.origin}.`);

  const api = async (method: string, route: string, body: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${gatewayUrl}${route}`, { method, headers: { 'Content-Type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
    return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, unknown> };
  };
  const decryptedPushes = () =>
    push.deliveries.map((d) => {
      const p = JSON.parse(d.plaintext) as { title: string; body: string; url: string };
      return { device: d.device, title: p.title, body: p.body, url: p.url };
    });

  const cleanup = async () => {
    await workers.close(5000);
    holder.server?.closeAllConnections();
    await new Promise((r) => holder.server?.close(r));
    await services.close();
    await deleteByPrefix(redis, prefix);
    await redis.quit();
    await Promise.all([primero.stop(), rapidpro.stop(), push.stop()]);
    await privateRedis?.destroy();
  };

  try {
    // 1. A caseworker enrolls a phone.
    for (const [user, device] of [
      ['triage_officer', 'triage-phone'],
      ['cp_worker', 'caseworker-phone'],
    ] as const) {
      const enrollment = await api('POST', '/admin/enrollments', { user_name: user }, { Authorization: `Bearer ${secrets.admin}` });
      const sub = push.subscribe(device);
      const res = await api('POST', '/push/subscriptions', { enrollment_token: enrollment.body.token, subscription: sub, language: 'eng' });
      if (res.status !== 201) throw new DemoStepError(`enrolling ${user}'s phone answered ${res.status}`);
      say(`• ${user} opened their one-time enrollment link on a phone: alerts are on for that device.`);
    }

    // 2. A RapidPro referral flow calls the webhook.
    const contact = randomUUID();
    const t0 = Date.now();
    const accepted = await api(
      'POST',
      '/webhooks/rapidpro/referral',
      {
        contact: { uuid: contact, urn: 'tel:+250788000001', language: 'eng' },
        flow: { uuid: randomUUID(), name: 'Primero Gateway Referral' },
        run: { uuid: randomUUID() },
        results: {
          name: { value: 'Demo Child', category: 'All Responses' },
          age: { value: '13', category: 'Valid' },
          sex: { value: 'girl', category: 'Female' },
          concern: { value: 'sample message: I am not safe at home', category: 'All Responses' },
          consent: { value: 'yes', category: 'Yes' },
          safe_to_contact: { value: 'yes', category: 'Yes' },
        },
      },
      { Authorization: `Token ${secrets.webhook}` },
    );
    const reference = String(accepted.body.reference);
    say(`1. A child finished the RapidPro referral flow. RapidPro called the gateway, which stored the message and answered ${accepted.status} in ${Date.now() - t0} ms with reference ${reference}.`);
    const created = await until('the referral case in Primero', () => [...primero.cases.values()].find((c) => c.other_agency_id === reference));
    say(`2. The intake worker created the case in Primero: ${created.case_id_display} (reference ${reference} in other_agency_id, consent yes).`);
    const triage = await until('the triage push', () => decryptedPushes().find((p) => p.device === 'triage-phone' && p.url.endsWith(created.id)));
    say(`3. The triage officer's phone shows: "${triage.title}: ${triage.body}" — and nothing about the child.`);
    await until('the "received" flow start', () => rapidpro.starts.find((s) => s.params.reference === reference && s.params.status === 'received'));
    say(`4. RapidPro was asked to start the case-update flow for the child: params {reference: ${reference}, status: received}.`);

    // 3. Someone assigns the case in Primero.
    await primero.assign(created.id, 'cp_worker');
    const assigned = await until('the assignment push', () => decryptedPushes().find((p) => p.device === 'caseworker-phone' && p.url.endsWith(created.id)));
    say(`5. A supervisor assigned the case to cp_worker in Primero. Primero's webhook reached the gateway; cp_worker's phone shows: "${assigned.title}: ${assigned.body}".`);
    await until('the "in_progress" flow start', () => rapidpro.starts.find((s) => s.params.reference === reference && s.params.status === 'in_progress'));
    say(`6. The child's RapidPro flow was started again with status in_progress.`);

    // 4. An SMS complaint, then the provider delivers it again.
    const sms = { id: randomUUID(), text: 'FEEDBACK sample complaint: the help desk was closed', from: '+254700000002', to: '21512', date: new Date().toISOString().slice(0, 19) + 'Z' };
    const form = new URLSearchParams(sms).toString();
    const postSms = async () => {
      const res = await fetch(`${gatewayUrl}/webhooks/africastalking/sms?token=${secrets.at}`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: form });
      return (await res.json()) as { reference: string; duplicate: boolean };
    };
    const complaintAnswer = await postSms();
    const complaint = await until('the complaint record', () => [...primero.cases.values()].find((c) => c.other_agency_id === complaintAnswer.reference));
    say(`7. An SMS complaint arrived through Africa's Talking ("FEEDBACK …"): reference ${complaintAnswer.reference}, filed in Primero as ${complaint.case_id_display} with ${String(complaint.other_id_no)}.`);
    const before = primero.cases.size;
    const again = await postSms();
    await new Promise((r) => setTimeout(r, 500));
    const after = primero.cases.size;
    say(`8. The provider delivered the same SMS again: the gateway answered duplicate=${again.duplicate} with the same reference ${again.reference}; Primero still has ${after} records (${before} before).`);

    // 5. Primero goes down while a referral arrives.
    primero.goDown(2500);
    const failedBefore = primero.requests.filter((r) => r.status === 503).length;
    const during = await api(
      'POST',
      '/webhooks/rapidpro/referral',
      { contact: { uuid: randomUUID(), urn: 'tel:+250788000003' }, flow: { uuid: randomUUID() }, run: { uuid: randomUUID() }, results: { concern: { value: 'sample message during an outage', category: 'All Responses' } } },
      { Authorization: `Token ${secrets.webhook}` },
    );
    say(`9. Primero went down (answering 503). A new referral still got ${during.status} and reference ${String(during.body.reference)} at once: the message waits safely in Redis.`);
    const recovered = await until('the case created after the outage', () => [...primero.cases.values()].find((c) => c.other_agency_id === during.body.reference), 20000);
    const failedCalls = primero.requests.filter((r) => r.status === 503).length - failedBefore;
    say(`10. Primero came back; after ${failedCalls} refused attempts with backoff, the case appeared: ${recovered.case_id_display}.`);

    const twoWay = await twoWaySteps(
      { api, until, say, primero, rapidpro, pushes: decryptedPushes, webhookToken: secrets.webhook, child: { contact, urn: 'tel:+250788000001', reference, caseId: created.id } },
      11,
    );

    const report: DemoReport = {
      referral: { reference, caseId: created.id, caseIdDisplay: created.case_id_display },
      complaint: { reference: complaintAnswer.reference, caseId: complaint.id },
      duplicate: { reference: again.reference, duplicate: again.duplicate, primeroCasesBefore: before, primeroCasesAfter: after },
      outage: { reference: String(during.body.reference), caseId: recovered.id, failedCalls },
      pushes: decryptedPushes(),
      twoWay,
      primero,
      rapidpro,
      push,
      prefix,
      redisUrl,
    };

    if (opts.interactive) {
      const enrollment = await api('POST', '/admin/enrollments', { user_name: 'you' }, { Authorization: `Bearer ${secrets.admin}` });
      say('');
      say('The gateway keeps running (Ctrl-C to stop and wipe the demo data). Try:');
      say(`  curl -s -X POST '${gatewayUrl}/webhooks/rapidpro/referral' -H 'Authorization: Token ${secrets.webhook}' -d '{"contact":{"uuid":"${randomUUID()}","urn":"tel:+250788000099"},"flow":{"uuid":"${randomUUID()}"},"results":{"concern":{"value":"try me","category":"All Responses"}}}'`);
      say(`  curl -s -X POST '${gatewayUrl}/webhooks/africastalking/sms?token=${secrets.at}' -d 'id=${randomUUID()}&from=%2B254700000099&to=21512&text=AIDE+bonjour'`);
      say(`  curl -s '${gatewayUrl}/admin/messages/${reference}' -H 'Authorization: Bearer ${secrets.admin}'`);
      say(`  curl -s '${gatewayUrl}/admin/dead-letters' -H 'Authorization: Bearer ${secrets.admin}'`);
      say(`  curl -s '${gatewayUrl}/metrics' -H 'Authorization: Bearer ${secrets.admin}'`);
      say(`  Queue dashboard (read-only; log in with the admin token ${secrets.admin}): ${gatewayUrl}/admin/queues`);
      say(`  Enrollment page (a one-time link): ${String(enrollment.body.url)}`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
    }
    return report;
  } finally {
    await cleanup();
    say('• Stopped. The demo data was wiped from Redis.');
  }
}
