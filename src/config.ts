import { z } from 'zod';

// Unset and empty are the same thing for an operator editing a .env file.
const optionalSecret = z.preprocess((v) => (v === '' ? undefined : v), z.string().min(8, 'must be at least 8 characters').optional());
const optionalText = z.preprocess((v) => (v === '' ? undefined : v), z.string().optional());
const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).transform((u) => u.replace(/\/+$/, ''));
const intWithDefault = (def: number, min: number, max: number) =>
  z.preprocess((v) => (v === '' || v === undefined ? def : Number(v)), z.number().int().min(min).max(max));

export const configSchema = z.object({
  PORT: intWithDefault(3000, 0, 65535),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  REDIS_URL: z.url({ protocol: /^rediss?$/, error: 'must be a redis:// or rediss:// URL' }).default('redis://127.0.0.1:6379'),
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

  INTAKE_CONCURRENCY: intWithDefault(8, 1, 256),
  INTAKE_ATTEMPTS: intWithDefault(30, 1, 1000),
  RETRY_BASE_MS: intWithDefault(5000, 1, 3600000),
  RETRY_MAX_MS: intWithDefault(1800000, 1, 86400000),
  IDEMPOTENCY_WINDOW_HOURS: intWithDefault(72, 24, 24 * 90),
  REFERENCE_RETENTION_DAYS: intWithDefault(180, 1, 3650),
  COMPLETED_JOB_RETENTION_SECONDS: intWithDefault(3600, 0, 86400 * 30),
  DEAD_LETTER_RETENTION_DAYS: intWithDefault(14, 1, 3650),
  SHUTDOWN_DEADLINE_MS: intWithDefault(25000, 1000, 600000),
  ENQUEUE_TIMEOUT_MS: intWithDefault(2000, 50, 30000),

  ADMIN_TOKEN: optionalSecret,
  DATA_KEY: optionalText,
});

export type Config = z.infer<typeof configSchema>;

export type ConfigResult = { ok: true; config: Config } | { ok: false; problems: string[] };

/** Validates the environment; every problem is one line naming the variable, never its value. */
export function loadConfig(env: NodeJS.ProcessEnv): ConfigResult {
  const parsed = configSchema.safeParse(env);
  if (parsed.success) return { ok: true, config: parsed.data };
  const problems = parsed.error.issues.map((issue) => {
    const name = issue.path.join('.') || '(environment)';
    const missing = issue.code === 'invalid_type' && env[name] === undefined;
    return `${name}: ${missing ? 'is required but not set' : issue.message}`;
  });
  return { ok: false, problems };
}
