import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { csv, httpUrl, intWithDefault, isDataKey, optionalSecret, optionalText } from './config-fields';
import { redisTopologyProblems, redisTopologySettings } from './config-redis';
import { twoWaySettings } from './config-two-way';
import { withWhatsAppRetryWindow } from './config-idempotency';

export { idempotencyWindowWarning, WHATSAPP_RETRY_HOURS } from './config-idempotency';

export const configSchema = z.object({
  PORT: intWithDefault(3000, 0, 65535),
  // /admin, the queue dashboard and /metrics on their own listener (0: on PORT, with /metrics behind ADMIN_TOKEN).
  ADMIN_PORT: intWithDefault(0, 0, 65535),
  ADMIN_HOST: z.preprocess((v) => (v === '' ? undefined : v), z.string().min(1).default('127.0.0.1')),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  REDIS_URL: z.url({ protocol: /^rediss?$/, error: 'must be a redis:// or rediss:// URL' }).default('redis://127.0.0.1:6379'),
  // A file holding only the Redis password (a Docker/compose secret): kept out of REDIS_URL, the environment and docker inspect.
  REDIS_PASSWORD_FILE: optionalText,
  ...redisTopologySettings,
  QUEUE_PREFIX: z.string().regex(/^[A-Za-z0-9_{}-]+$/, 'letters, digits, _ - and {} (for a Redis Cluster hash tag) only').default('pmg'),
  PUBLIC_URL: httpUrl.optional(),
  MAPPING_DIR: z.string().min(1).default('flows'),

  PRIMERO_URL: httpUrl,
  PRIMERO_USER: z.string().min(1, 'is required'),
  PRIMERO_PASSWORD: z.string().min(1, 'is required'),
  PRIMERO_TIMEOUT_MS: intWithDefault(15000, 100, 120000),
  PRIMERO_RATE_PER_SECOND: intWithDefault(20, 1, 10000),
  AUTH_FAILURE_PAUSE_MS: intWithDefault(300000, 100, 86400000),

  RAPIDPRO_WEBHOOK_TOKEN: optionalSecret,

  TWILIO_AUTH_TOKEN: optionalSecret,
  WHATSAPP_APP_SECRET: optionalSecret,
  WHATSAPP_VERIFY_TOKEN: optionalSecret,
  WHATSAPP_ACCESS_TOKEN: optionalSecret,
  WHATSAPP_PHONE_NUMBER_ID: optionalText,
  WHATSAPP_GRAPH_URL: httpUrl.default('https://graph.facebook.com/v21.0'),
  AFRICASTALKING_WEBHOOK_TOKEN: optionalSecret,
  KEYWORDS_FILE: optionalText,
  SENDER_RATE_LIMIT: intWithDefault(30, 1, 100000),
  SENDER_RATE_WINDOW_SECONDS: intWithDefault(30, 1, 86400),
  // Comma-separated numbers (digits, with or without +) and short codes the gateway itself sends from.
  OWN_ADDRESSES: z.preprocess((v) => (typeof v === 'string' ? v : ''), z.string()).transform((v) =>
    v.split(',').map((a) => a.trim().replace(/^\+/, '')).filter(Boolean),
  ),
  REPLY_ATTEMPTS: intWithDefault(10, 1, 1000),
  WHATSAPP_TIMEOUT_MS: intWithDefault(10000, 100, 120000),
  WHATSAPP_REPLY_CONCURRENCY: intWithDefault(4, 1, 256),
  // Meta's per-number throughput is far above this; the limiter exists so a 429 can pause the queue.
  WHATSAPP_REPLY_RATE_PER_SECOND: intWithDefault(50, 1, 10000),

  // Feedback categories handled apart (PSEA): own module, assigned to a focal point, acknowledged with the reference only.
  SENSITIVE_CATEGORIES: z.preprocess((v) => (typeof v === 'string' ? v : 'sea'), z.string()).transform((v) =>
    v.split(',').map((c) => c.trim()).filter(Boolean),
  ),
  SENSITIVE_MODULE_ID: optionalText,
  SENSITIVE_FOCAL_POINT: optionalText,
  FEEDBACK_MERGE_WINDOW_SECONDS: intWithDefault(1800, 0, 86400),

  ...twoWaySettings,

  // PRIMERO_RATE_PER_SECOND jobs a second need rate × job time at once (a job is a create and a read): 8 holds the
  // default 20/s while Primero answers within about 200 ms (13/s at 300 ms). Not more by default: stock Primero is
  // one puma with 5 threads, and jobs it cannot serve only queue there, delaying caseworkers' own clicks and pushing
  // calls past PRIMERO_TIMEOUT_MS (whose retries the step ledger must then settle). A bigger Primero raises it.
  INTAKE_CONCURRENCY: intWithDefault(8, 1, 256),
  INTAKE_ATTEMPTS: intWithDefault(30, 1, 1000),
  RETRY_BASE_MS: intWithDefault(5000, 1, 3600000),
  RETRY_MAX_MS: intWithDefault(1800000, 1, 86400000),
  // 72 unless set; 192 when WhatsApp messages are taken and it is not set (withWhatsAppRetryWindow).
  IDEMPOTENCY_WINDOW_HOURS: intWithDefault(72, 24, 24 * 90),
  REFERENCE_RETENTION_DAYS: intWithDefault(180, 1, 3650),
  COMPLETED_JOB_RETENTION_SECONDS: intWithDefault(3600, 0, 86400 * 30),
  DEAD_LETTER_RETENTION_DAYS: intWithDefault(14, 1, 3650),
  // How often the retention job purges expired jobs and logs overdue dead letters (one worker at a time).
  RETENTION_INTERVAL_MINUTES: intWithDefault(60, 1, 24 * 60),
  SHUTDOWN_DEADLINE_MS: intWithDefault(25000, 1000, 600000),
  // How long a worker holds a job before others may take it back (a crashed worker's jobs return after about this).
  JOB_LOCK_MS: intWithDefault(30000, 1000, 600000),
  ENQUEUE_TIMEOUT_MS: intWithDefault(2000, 50, 30000),

  PRIMERO_WEBHOOK_API_KEY: optionalSecret,
  // How often the poller reads cases changed since its cursor (0 = off): notifications flow even without webhooks.
  PRIMERO_POLL_INTERVAL_SECONDS: intWithDefault(300, 0, 86400),
  // Each poll re-reads this far behind its cursor, for changes Primero committed after stamping them.
  PRIMERO_POLL_OVERLAP_SECONDS: intWithDefault(120, 0, 86400),
  // Record changes handled per second, all workers together: a bulk reassign sends one webhook per case, and a
  // partial body costs a read of the case; this keeps those reads from crowding out intake's calls.
  PRIMERO_EVENTS_RATE_PER_SECOND: intWithDefault(10, 1, 10000),
  PRIMERO_EVENTS_CONCURRENCY: intWithDefault(4, 1, 256),
  // How far back the poller's first run (no cursor yet) looks for changed cases.
  PRIMERO_POLL_INITIAL_LOOKBACK_HOURS: intWithDefault(24, 1, 24 * 90),
  // Calls one poll may make to Primero's search (pages of up to 1000 records); the rest waits for the next poll.
  PRIMERO_POLL_MAX_PAGES: intWithDefault(50, 1, 10000),
  // The same record change (record id and last update) is queued once within this window.
  PRIMERO_EVENT_DEDUPE_DAYS: intWithDefault(7, 1, 365),
  // The same push or flow start (its notification key) is queued once within this window.
  NOTIFICATION_DEDUPE_DAYS: intWithDefault(30, 1, 365),

  RAPIDPRO_URL: httpUrl.optional(),
  RAPIDPRO_TOKEN: optionalSecret,
  RAPIDPRO_NOTIFY_FLOW_UUID: optionalText.refine((v) => v === undefined || /^[0-9a-f-]{36}$/i.test(v), 'must be a flow UUID'),
  // RapidPro's v2 API bucket (3,600/hour) is one per workspace, shared by every token and integration
  // (nyaruka/rapidpro: temba/api/support.py, OrgUserRateThrottle): take a third of it, not all of it.
  RAPIDPRO_RATE_PER_HOUR: intWithDefault(1200, 1, 1_000_000),
  RAPIDPRO_TIMEOUT_MS: intWithDefault(15000, 100, 120000),

  VAPID_PUBLIC_KEY: optionalText,
  VAPID_PRIVATE_KEY: optionalText,
  VAPID_SUBJECT: optionalText.refine((v) => v === undefined || /^(mailto:|https:)/.test(v), 'must start with mailto: or https:'),
  PUSH_TRIAGE_USERS: z.preprocess((v) => (typeof v === 'string' ? v : ''), z.string()).transform(csv),
  PUSH_SENSITIVE_USERS: z.preprocess((v) => (typeof v === 'string' ? v : ''), z.string()).transform(csv),
  PUSH_TTL_SECONDS: intWithDefault(86400, 0, 2_419_200),
  PUSH_TIMEOUT_MS: intWithDefault(10000, 100, 120000),
  PUSH_CONCURRENCY: intWithDefault(8, 1, 256),
  PUSH_RATE_PER_SECOND: intWithDefault(100, 1, 10000),
  ENROLLMENT_TTL_HOURS: intWithDefault(72, 1, 24 * 30),
  // Hosts (or host:port) of push services beyond the browsers' own; only these may be http or internal addresses.
  PUSH_ENDPOINT_HOSTS: z.preprocess((v) => (typeof v === 'string' ? v : ''), z.string()).transform(csv),
  // A device that does not re-subscribe within this many days stops receiving alerts.
  PUSH_SUBSCRIPTION_TTL_DAYS: intWithDefault(90, 1, 3650),

  ADMIN_TOKEN: optionalSecret,
  // A file holding only the admin token (the compose secret Prometheus reads too): one copy to rotate, in no variable.
  ADMIN_TOKEN_FILE: optionalText,
  // Lifetime of a queue-dashboard browser session (the cookie holds a random id, never the token).
  ADMIN_SESSION_TTL_HOURS: intWithDefault(8, 1, 24 * 7),
  // Express "trust proxy": hop count, true, or comma-separated proxy addresses/subnets (loopback, 10.0.0.0/8, …).
  TRUST_PROXY: optionalText.transform((v) => (v === undefined ? undefined : v === 'true' ? true : v === 'false' ? false : /^\d+$/.test(v) ? Number(v) : v)),
  // 32 bytes (openssl rand -base64 32): seals personal data in Redis. Rotation: new key here, old in DATA_KEY_PREVIOUS.
  DATA_KEY: optionalText.refine((v) => v === undefined || isDataKey(v), 'must be 32 bytes: 64 hex characters or base64 (openssl rand -base64 32)'),
  DATA_KEY_PREVIOUS: z.preprocess((v) => (typeof v === 'string' ? v : ''), z.string())
    .transform((v) => v.split(',').map((k) => k.trim()).filter(Boolean))
    .refine((keys) => keys.every(isDataKey), 'each key must be 32 bytes: 64 hex characters or base64'),
  // Opens `s1` seals (written before context binding); set false once `reseal` reports none left.
  SEAL_ACCEPT_LEGACY: z.preprocess((v) => (v === '' || v === undefined ? 'true' : v), z.enum(['true', 'false'], { error: 'must be true or false' })).transform((v) => v === 'true'),
  // 32 bytes: keys the hashes of phone numbers and provider ids (derived from DATA_KEY when unset). Never in Redis.
  HASH_KEY: optionalText.refine((v) => v === undefined || isDataKey(v), 'must be 32 bytes: 64 hex characters or base64 (openssl rand -base64 32)'),
  HASH_KEY_PREVIOUS: z.preprocess((v) => (typeof v === 'string' ? v : ''), z.string())
    .transform((v) => v.split(',').map((k) => k.trim()).filter(Boolean))
    .refine((keys) => keys.every(isDataKey), 'each key must be 32 bytes: 64 hex characters or base64'),
});

export type Config = z.infer<typeof configSchema>;

/**
 * The identifier-hash key. Production keeps it apart from DATA_KEY, so removing an old DATA_KEY never
 * changes the hashes the opt-outs are stored under; the public development key is for NODE_ENV=development
 * or test only (npm start or a systemd unit without NODE_ENV must not fall back to it). Shared with the CLI.
 */
export function keyProblems(c: Pick<Config, 'HASH_KEY' | 'DATA_KEY'>, env: NodeJS.ProcessEnv): string[] {
  if (env.NODE_ENV === 'production' && !c.HASH_KEY) return ['HASH_KEY: is required when NODE_ENV=production (it is never derived from DATA_KEY there)'];
  const developing = env.NODE_ENV === 'development' || env.NODE_ENV === 'test';
  if (!developing && !c.HASH_KEY && !c.DATA_KEY) return ['HASH_KEY: is required unless NODE_ENV is development or test (or set DATA_KEY): without it phone-number hashes can be recomputed by anyone'];
  return [];
}

/** Shorter admin tokens are refused in production and warned about elsewhere: they guard every operator route. */
export const MIN_ADMIN_TOKEN_LENGTH = 32;

/** Settings that only make sense together; each problem names the variable to set. */
function crossFieldProblems(c: Config, env: NodeJS.ProcessEnv): string[] {
  const problems: string[] = [];
  problems.push(...keyProblems(c, env));
  problems.push(...redisTopologyProblems(c));
  if (env.NODE_ENV === 'production' && !c.DATA_KEY) problems.push('DATA_KEY: is required when NODE_ENV=production: without it messages and dead letters sit in clear in Redis (openssl rand -base64 32)');
  if (env.NODE_ENV === 'production' && c.ADMIN_TOKEN && c.ADMIN_TOKEN.length < MIN_ADMIN_TOKEN_LENGTH) problems.push(`ADMIN_TOKEN: must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters when NODE_ENV=production (openssl rand -hex 32)`);
  if (c.ADMIN_PORT !== 0 && c.ADMIN_PORT === c.PORT) problems.push('ADMIN_PORT: must differ from PORT (or be 0 to share it)');
  if (c.TWILIO_AUTH_TOKEN && !c.PUBLIC_URL) problems.push('PUBLIC_URL: is required when TWILIO_AUTH_TOKEN is set (Twilio signs the public URL)');
  if (c.WHATSAPP_ACCESS_TOKEN && !c.WHATSAPP_PHONE_NUMBER_ID) problems.push('WHATSAPP_PHONE_NUMBER_ID: is required when WHATSAPP_ACCESS_TOKEN is set');
  if (c.RAPIDPRO_TOKEN && !c.RAPIDPRO_URL) problems.push('RAPIDPRO_URL: is required when RAPIDPRO_TOKEN is set');
  if (c.RAPIDPRO_TOKEN && !c.RAPIDPRO_NOTIFY_FLOW_UUID) problems.push('RAPIDPRO_NOTIFY_FLOW_UUID: is required when RAPIDPRO_TOKEN is set');
  const vapid = [c.VAPID_PUBLIC_KEY, c.VAPID_PRIVATE_KEY, c.VAPID_SUBJECT].filter(Boolean).length;
  if (vapid > 0 && vapid < 3) problems.push('VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY, VAPID_SUBJECT: set all three (npx web-push generate-vapid-keys) or none');
  return problems;
}

export type ConfigResult = { ok: true; config: Config } | { ok: false; problems: string[] };

/** The contents of a secret file without its trailing newline; a failure names the setting, never the contents. */
function readSecretFile(setting: string, file: string): string {
  let value: string;
  try {
    value = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw new Error(`${setting}: cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (!value) throw new Error(`${setting}: the file is empty`);
  return value;
}

/**
 * REDIS_URL with the password of REDIS_PASSWORD_FILE in it, percent-encoded (so any character is safe), for
 * every connection the process opens. Throws a one-line message naming the setting, never the password.
 */
export function withRedisPasswordFile<T extends { REDIS_URL: string; REDIS_PASSWORD_FILE?: string | undefined; REDIS_SENTINEL_PASSWORD_FILE?: string | undefined }>(c: T): T {
  let out = c;
  if (c.REDIS_PASSWORD_FILE) {
    const url = new URL(c.REDIS_URL);
    url.password = encodeURIComponent(readSecretFile('REDIS_PASSWORD_FILE', c.REDIS_PASSWORD_FILE));
    out = { ...out, REDIS_URL: url.toString() };
  }
  // The sentinels' own password, likewise kept out of the environment.
  if (c.REDIS_SENTINEL_PASSWORD_FILE) out = { ...out, REDIS_SENTINEL_PASSWORD: readSecretFile('REDIS_SENTINEL_PASSWORD_FILE', c.REDIS_SENTINEL_PASSWORD_FILE) };
  return out;
}

/**
 * ADMIN_TOKEN read from ADMIN_TOKEN_FILE, so the api, the workers and Prometheus share one secret file and a rotation
 * cannot miss a copy. Both set is refused: which one wins would be a guess.
 */
function withAdminTokenFile(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (!env.ADMIN_TOKEN_FILE) return env;
  if (env.ADMIN_TOKEN) throw new Error('ADMIN_TOKEN_FILE: set it or ADMIN_TOKEN, not both');
  return { ...env, ADMIN_TOKEN: readSecretFile('ADMIN_TOKEN_FILE', env.ADMIN_TOKEN_FILE) };
}

/** Validates the environment; every problem is one line naming the variable, never its value. */
export function loadConfig(given: NodeJS.ProcessEnv): ConfigResult {
  // An empty value is an unset one (`.env.example` leaves what a deployment does not use as `NAME=`).
  let env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== ''));
  try {
    env = withAdminTokenFile(env);
  } catch (err) {
    return { ok: false, problems: [(err as Error).message] };
  }
  const parsed = configSchema.safeParse(env);
  if (parsed.success) {
    const problems = crossFieldProblems(parsed.data, env);
    if (problems.length) return { ok: false, problems };
    try {
      return { ok: true, config: withRedisPasswordFile(withWhatsAppRetryWindow(parsed.data, env)) };
    } catch (err) {
      return { ok: false, problems: [(err as Error).message] };
    }
  }
  const problems = parsed.error.issues.map((issue) => {
    const name = issue.path.join('.') || '(environment)';
    const missing = issue.code === 'invalid_type' && env[name] === undefined;
    // A token read from the file is reported under the setting the operator wrote.
    const setting = name === 'ADMIN_TOKEN' && env.ADMIN_TOKEN_FILE ? 'ADMIN_TOKEN_FILE' : name;
    return `${setting}: ${missing ? 'is required but not set' : issue.message}`;
  });
  return { ok: false, problems };
}
