/**
 * The operator's shell tool: the same actions as /admin, straight against Redis.
 *
 *   npm run admin -- dead-letters list [--queue intake] [--error 422] [--min-age-hours 1] [--max-age-hours 48]
 *   npm run admin -- dead-letters show <id> [--reveal]
 *   npm run admin -- dead-letters replay <id>
 *   npm run admin -- dead-letters replay-matching [filters] [--yes]     (without --yes: a dry run)
 *   npm run admin -- dead-letters discard <id>
 *   npm run admin -- trace <reference>
 *   npm run admin -- forget <urn | RapidPro contact uuid>
 *   npm run admin -- reseal          (after a DATA_KEY / HASH_KEY rotation: rewrites every sealed value)
 *   npm run admin -- audit [--limit 50]
 *   npm run admin -- devices list <user_name>
 *   npm run admin -- devices revoke <device id>
 *   npm run admin -- sessions end-all   (logs every browser out of the queue dashboard, e.g. after an ADMIN_TOKEN rotation)
 *
 * The actor recorded in the audit trail is --actor, else $USER. Output is JSON.
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { configSchema, keyProblems, withRedisPasswordFile } from '../config';
import type { DeadLetterFilter } from '../admin/dead-letters';
import { normaliseReference } from '../domain/reference';
import { buildOperatorServices } from '../operator-services';
import { PushSubscriptionStore } from '../store/push-subscriptions';
import { DEVICE_ID, DeviceAdmin, USER_NAME } from '../admin/devices';
import { createRedis, waitForRedis } from '../queues/connection';
import { AdminSessionStore } from '../store/admin-sessions';

/** Before a logger exists (or for a person at a shell): plain lines on standard error, never personal data. */
const say = (line: string) => process.stderr.write(`${line}\n`);

const schema = configSchema.pick({ REDIS_URL: true, REDIS_PASSWORD_FILE: true, QUEUE_PREFIX: true, DATA_KEY: true, DATA_KEY_PREVIOUS: true, SEAL_ACCEPT_LEGACY: true, HASH_KEY: true, HASH_KEY_PREVIOUS: true, REFERENCE_RETENTION_DAYS: true, PUSH_SUBSCRIPTION_TTL_DAYS: true });

function usage(): never {
  say('usage: npm run admin -- <dead-letters list|show|replay|replay-matching|discard | trace | forget | reseal | audit | devices list|revoke | sessions end-all> … (see src/cli/admin.ts)');
  process.exit(2);
}

async function main(): Promise<void> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  const parsed = schema.safeParse(process.env);
  if (!parsed.success) {
    for (const i of parsed.error.issues) say(`${i.path.join('.')}: ${i.message}`);
    process.exit(1);
  }
  // The same key rules as the gateway's start: the CLI must never hash or reseal under the public development key.
  const problems = keyProblems(parsed.data, process.env);
  if (problems.length) {
    for (const p of problems) say(p);
    process.exit(1);
  }
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      queue: { type: 'string' },
      error: { type: 'string' },
      'min-age-hours': { type: 'string' },
      'max-age-hours': { type: 'string' },
      reveal: { type: 'boolean' },
      yes: { type: 'boolean' },
      limit: { type: 'string' },
      actor: { type: 'string' },
    },
  });
  const actor = values.actor ?? process.env.USER ?? 'cli';
  const filter: DeadLetterFilter = {
    queue: values.queue,
    error: values.error,
    minAgeHours: values['min-age-hours'] === undefined ? undefined : Number(values['min-age-hours']),
    maxAgeHours: values['max-age-hours'] === undefined ? undefined : Number(values['max-age-hours']),
  };
  let redisUrl: string;
  try {
    redisUrl = withRedisPasswordFile(parsed.data).REDIS_URL;
  } catch (err) {
    // One line naming the setting (never the file's contents), as the gateway's own start says it.
    say((err as Error).message);
    process.exit(1);
  }
  const redis = createRedis(redisUrl, 'worker');
  redis.on('error', () => undefined);
  await waitForRedis(redis, 5000);
  const ops = buildOperatorServices(parsed.data, redis);
  const [command, sub, arg] = positionals;
  let result: unknown;
  try {
    if (command === 'dead-letters') {
      if (sub === 'list') result = await ops.deadLetters.list(filter);
      else if (sub === 'show' && arg) result = await ops.deadLetters.show(arg, actor, values.reveal === true);
      else if (sub === 'replay' && arg) result = await ops.deadLetters.replay(arg, actor);
      else if (sub === 'replay-matching') result = await ops.deadLetters.replayMatching(filter, actor, values.yes !== true);
      else if (sub === 'discard' && arg) result = await ops.deadLetters.discard(arg, actor);
      else usage();
    } else if (command === 'trace' && sub) {
      const reference = normaliseReference(sub);
      if (!reference) usage();
      result = { reference, record: await ops.references.get(reference), timeline: await ops.trace.timeline(reference) };
      const record = (result as { record: { urn?: unknown } | null }).record;
      if (record) delete record.urn;
    } else if (command === 'forget' && sub) result = await ops.forget.forget(sub, actor);
    else if (command === 'reseal') {
      const report = await ops.reseal.run(actor);
      result = report;
      // Old keys may be removed only after a run that verified nothing is left under them.
      if (report.verified.notCurrent.length) process.exitCode = 1;
    } else if (command === 'devices' && arg) {
      const devices = new DeviceAdmin(new PushSubscriptionStore(redis, parsed.data.QUEUE_PREFIX, ops.codec, parsed.data.PUSH_SUBSCRIPTION_TTL_DAYS * 86_400), ops.audit);
      if (sub === 'list' && USER_NAME.test(arg)) result = await devices.list(arg, actor);
      else if (sub === 'revoke' && DEVICE_ID.test(arg)) result = await devices.revoke(arg, actor);
      else usage();
    } else if (command === 'sessions' && sub === 'end-all') {
      const ended = await new AdminSessionStore(redis, parsed.data.QUEUE_PREFIX).endAll();
      await ops.audit.record({ actor, action: 'admin.sessions_ended', target: 'dashboard', detail: { count: ended } });
      result = { ended };
    } else if (command === 'audit') result = await ops.audit.recent(Number(values.limit ?? 50));
    else usage();
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
