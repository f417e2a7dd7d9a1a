/**
 * The operator's shell tool: the same actions as /admin, straight against Redis.
 *
 *   npm run admin -- dead-letters list [--queue intake] [--error 422] [--min-age-hours 1] [--max-age-hours 48]
 *   npm run admin -- overview        (messages, cases, dead letters, backlogs, each destination's state)
 *   npm run admin -- dead-letters show <id> [--reveal] [--reason "<why>"]
 *   npm run admin -- dead-letters replay <id>
 *   npm run admin -- dead-letters replay-matching [filters] [--yes]     (without --yes: a dry run; skips "not confirmed")
 *   npm run admin -- dead-letters resend <id> --reason "<what you checked>"   (a "not confirmed" one, after checking)
 *   npm run admin -- dead-letters resend-matching --queue <q> --reason "<what you checked>" [--yes]   (each "not confirmed" one of the queue; dry run without --yes)
 *   npm run admin -- dead-letters discard <id> [--reason "<why>"]
 *   npm run admin -- trace <reference>
 *   npm run admin -- forget <urn | RapidPro contact uuid>
 *   npm run admin -- reseal          (after a DATA_KEY / HASH_KEY rotation: rewrites every sealed value)
 *   npm run admin -- audit [--limit 50]
 *   npm run admin -- devices list <user_name>
 *   npm run admin -- devices revoke <device id>
 *   npm run admin -- sessions end-all   (logs every browser out of the queue dashboard and the console, e.g. after an ADMIN_TOKEN rotation)
 *
 * The actor recorded in the audit trail is --actor, else $USER. Output is JSON.
 * A --reason is kept in your shell history and shown to anyone who lists processes (ps) while the command runs:
 * write why in general words, never a person's name, number or what they reported.
 */
import { endAllSessions } from '../admin/sessions';
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { RedisConnection } from '../queues/connection';
import { configSchema, keyProblems, withRedisPasswordFile } from '../config';
import { redisTopologyProblems } from '../config-redis';
import type { DeadLetterFilter } from '../admin/dead-letters';
import { parseDeadLetterFilter } from '../admin/dead-letter-filter';
import { resendMatching } from '../admin/resend-matching';
import { normaliseReference } from '../domain/reference';
import { buildOperatorServices, type OperatorServices } from '../operator-services';
import { PushSubscriptionStore } from '../store/push-subscriptions';
import { DEVICE_ID, DeviceAdmin, USER_NAME } from '../admin/devices';
import { createRedis, waitForRedis } from '../queues/connection';
import { AdminSessionStore } from '../store/admin-sessions';

/** Before a logger exists (or for a person at a shell): plain lines on standard error, never personal data. */
const say = (line: string) => process.stderr.write(`${line}\n`);

const schema = configSchema.pick({
  REDIS_URL: true,
  REDIS_PASSWORD_FILE: true,
  REDIS_SENTINELS: true,
  REDIS_SENTINEL_NAME: true,
  REDIS_SENTINEL_PASSWORD: true,
  REDIS_SENTINEL_PASSWORD_FILE: true,
  REDIS_CLUSTER_NODES: true,
  // Read only so the topology is checked as the gateway's start checks it.
  REDIS_MIN_REPLICAS_ACK: true,
  REDIS_REPLICA_ACK_TIMEOUT_MS: true,
  ENQUEUE_TIMEOUT_MS: true,
  QUEUE_PREFIX: true,
  DATA_KEY: true,
  DATA_KEY_PREVIOUS: true,
  SEAL_ACCEPT_LEGACY: true,
  HASH_KEY: true,
  HASH_KEY_PREVIOUS: true,
  REFERENCE_RETENTION_DAYS: true,
  PUSH_SUBSCRIPTION_TTL_DAYS: true,
  // Which destinations the overview lists: those this deployment configures (public settings only: no token is
  // read just to see that it is set; a destination paused or with jobs is listed anyway).
  RAPIDPRO_URL: true,
  RAPIDPRO_NOTIFY_FLOW_UUID: true,
  VAPID_PUBLIC_KEY: true,
  VAPID_SUBJECT: true,
  WHATSAPP_PHONE_NUMBER_ID: true,
});

function usage(): never {
  say('usage: npm run admin -- <overview | dead-letters list|show|replay|replay-matching|resend|resend-matching|discard | trace | forget | reseal | audit | devices list|revoke | sessions end-all> … (see src/cli/admin.ts)');
  say('--reason "<why>" lands in your shell history and in ps while the command runs: no personal data in it.');
  process.exit(2);
}

type Settings = ReturnType<typeof schema.parse>;

/** The settings the CLI needs, from the environment (and .env); a problem stops it with one line per setting. */
function readSettings(): Settings {
  if (existsSync('.env')) process.loadEnvFile('.env');
  const parsed = schema.safeParse(process.env);
  if (!parsed.success) {
    for (const i of parsed.error.issues) say(`${i.path.join('.')}: ${i.message}`);
    process.exit(1);
  }
  // The same key rules as the gateway's start: the CLI must never hash or reseal under the public development key.
  // And the same topology rules: a cluster under an untagged prefix would not find the gateway's keys together.
  const problems = [...keyProblems(parsed.data, process.env), ...redisTopologyProblems(parsed.data)];
  if (problems.length) {
    for (const p of problems) say(p);
    process.exit(1);
  }
  return parsed.data;
}

interface Invocation {
  command: string | undefined;
  sub: string | undefined;
  arg: string | undefined;
  actor: string;
  filter: DeadLetterFilter;
  reveal: boolean;
  /** Why a reveal or discard is done, for the audit trail. */
  reason: string | undefined;
  yes: boolean;
  limit: string | undefined;
}

function readArgs(): Invocation {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      queue: { type: 'string' },
      error: { type: 'string' },
      'min-age-hours': { type: 'string' },
      'max-age-hours': { type: 'string' },
      reveal: { type: 'boolean' },
      reason: { type: 'string' },
      yes: { type: 'boolean' },
      limit: { type: 'string' },
      actor: { type: 'string' },
    },
  });
  // The same bound as the JSON routes' ?reason=: an audit entry is a note, not a document.
  if (values.reason !== undefined && values.reason.length > 200) {
    say('--reason: at most 200 characters');
    process.exit(2);
  }
  const [command, sub, arg] = positionals;
  return { command, sub, arg, actor: values.actor ?? process.env.USER ?? 'cli', filter: filterArgs(values), reveal: values.reveal === true, reason: values.reason, yes: values.yes === true, limit: values.limit };
}

/** The filter options through the JSON routes' own validation: "--min-age-hours 2d" is refused, never read as no filter. */
function filterArgs(values: { queue?: string; error?: string; 'min-age-hours'?: string; 'max-age-hours'?: string }): DeadLetterFilter {
  const parsed = parseDeadLetterFilter({ queue: values.queue, error: values.error, min_age_hours: values['min-age-hours'], max_age_hours: values['max-age-hours'] });
  if (parsed.ok) return parsed.filter;
  for (const issue of parsed.error.issues) say(`--${issue.path.map(String).join('.').replaceAll('_', '-')}: ${issue.message}`);
  process.exit(2);
}

async function connect(settings: Settings): Promise<RedisConnection> {
  let located: Settings;
  try {
    located = withRedisPasswordFile(settings);
  } catch (err) {
    // One line naming the setting (never the file's contents), as the gateway's own start says it.
    say((err as Error).message);
    process.exit(1);
  }
  const redis = createRedis(located, 'worker');
  redis.on('error', () => undefined);
  await waitForRedis(redis, 5000);
  return redis;
}

/** Runs one command; what it prints (null when it found nothing). */
async function run(call: Invocation, settings: Settings, redis: RedisConnection, ops: OperatorServices): Promise<unknown> {
  const { command, sub, arg, actor, filter } = call;
  if (command === 'dead-letters') {
    if (sub === 'list') return ops.deadLetters.list(filter);
    if (sub === 'show' && arg) return ops.deadLetters.show(arg, actor, call.reveal, call.reason);
    if (sub === 'replay' && arg) return ops.deadLetters.replay(arg, actor);
    if (sub === 'replay-matching') {
      const result = await ops.deadLetters.replayMatching(filter, actor, !call.yes);
      // Some could not be moved back: running the same command again retries them.
      if (result.outcome?.failed.length) process.exitCode = 1;
      return result;
    }
    if (sub === 'resend' && arg && call.reason?.trim()) return ops.deadLetters.resend(arg, actor, call.reason);
    if (sub === 'resend-matching' && filter.queue && call.reason?.trim()) {
      const result = await resendMatching(ops.deadLetters, { ...filter, queue: filter.queue }, actor, call.reason, !call.yes);
      if (result.outcome?.failed.length) process.exitCode = 1;
      return result;
    }
    if (sub === 'discard' && arg) return ops.deadLetters.discard(arg, actor, call.reason);
    usage();
  }
  if (command === 'trace' && sub) {
    const reference = normaliseReference(sub);
    if (!reference) usage();
    const result = { reference, record: await ops.references.get(reference), timeline: await ops.trace.timeline(reference) };
    const record = (result as { record: { urn?: unknown } | null }).record;
    if (record) delete record.urn;
    return result;
  }
  if (command === 'overview') return ops.overview.read();
  if (command === 'forget' && sub) return ops.forget.forget(sub, actor);
  if (command === 'reseal') {
    const report = await ops.reseal.run(actor);
    // Old keys may be removed only after a run that verified nothing is left under them.
    if (report.verified.notCurrent.length) process.exitCode = 1;
    return report;
  }
  if (command === 'devices' && arg) {
    const devices = new DeviceAdmin(new PushSubscriptionStore(redis, settings.QUEUE_PREFIX, ops.codec, settings.PUSH_SUBSCRIPTION_TTL_DAYS * 86_400), ops.audit);
    if (sub === 'list' && USER_NAME.test(arg)) return devices.list(arg, actor);
    if (sub === 'revoke' && DEVICE_ID.test(arg)) return devices.revoke(arg, actor);
    usage();
  }
  if (command === 'sessions' && sub === 'end-all') {
    return { ended: await endAllSessions(new AdminSessionStore(redis, settings.QUEUE_PREFIX), ops.audit, actor) };
  }
  if (command === 'audit') return ops.audit.recent(Number(call.limit ?? 50));
  usage();
}

async function main(): Promise<void> {
  const settings = readSettings();
  const call = readArgs();
  const redis = await connect(settings);
  const ops = buildOperatorServices(settings, redis);
  try {
    const result = await run(call, settings, redis, ops);
    process.stdout.write(`${JSON.stringify(result ?? null, null, 2)}\n`);
    if (result === null) process.exitCode = 1;
  } finally {
    await ops.registry.close();
    await redis.quit();
  }
}

main().catch((err: Error) => {
  say(`admin: ${err.message}`);
  process.exit(1);
});
