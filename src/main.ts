import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Server } from 'node:http';
import type { Express } from 'express';
import { idempotencyWindowWarning, loadConfig, MIN_ADMIN_TOKEN_LENGTH, type Config } from './config';
import { createLogger, type Logger } from './logger';
import { loadMappings, type MappingSet } from './mappings';
import { createRedis, waitForRedis } from './queues/connection';
import type { KeywordTable } from './domain/keywords';
import { loadKeywordTable } from './keyword-table';
import { startWorkers, type RunningWorkers } from '../workers/run-worker';
import { legacyHashKeyProblem } from './security/legacy-hash-key';
import { installProcessEnd, type Stop } from './process-end';

/** Before a logger exists (or for a person at a shell): plain lines on standard error, never personal data. */
const say = (line: string) => process.stderr.write(`${line}\n`);

type Mode = 'api' | 'worker' | 'all';

function readMode(arg: string | undefined): Mode {
  if (arg === undefined) return 'all';
  if (arg === 'api' || arg === 'worker' || arg === 'all') return arg;
  say(`Unknown mode "${arg}": use api, worker or all.`);
  process.exit(2);
}

function readConfig(): Config {
  if (existsSync('.env')) process.loadEnvFile('.env');
  const result = loadConfig(process.env);
  if (result.ok) return result.config;
  say('The gateway cannot start; fix these settings (see .env.example and the README):');
  for (const line of result.problems) say(`  - ${line}`);
  say('To see the gateway work without Primero or RapidPro, run: npm run demo');
  process.exit(1);
}

function listen(app: Express, port: number, host?: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = host ? app.listen(port, host) : app.listen(port);
    server.once('listening', () => resolve(server)).once('error', reject);
  });
}

async function startApi(config: Config, logger: Logger, mappings: MappingSet, keywords: KeywordTable): Promise<() => Promise<void>> {
  // Loaded here, not at the top: a worker process never holds the app, the queue dashboard or the console in memory.
  const [{ createApp }, { buildApiServices }] = await Promise.all([import('./app'), import('./api-services')]);
  const redis = createRedis(config, 'producer');
  redis.on('error', () => undefined);
  await waitForRedis(redis, 30000);
  // With REDIS_MIN_REPLICAS_ACK the intake's connection spends time blocked in WAIT; readiness asks on its own.
  const readiness = config.REDIS_MIN_REPLICAS_ACK > 0 ? createRedis(config, 'producer') : redis;
  if (readiness !== redis) {
    readiness.on('error', () => undefined);
    await waitForRedis(readiness, 30000);
  }
  const services = buildApiServices(config, redis, logger, keywords, mappings);
  const intents = [...mappings.keys()];
  const separate = config.ADMIN_PORT !== 0;
  const app = createApp({ config, logger, redis, readiness, services, intents, surface: separate ? 'public' : 'all' });
  const servers: Server[] = [await listen(app, config.PORT)];
  logger.info({ port: config.PORT }, 'API listening');
  if (separate) {
    servers.push(await listen(createApp({ config, logger, redis, readiness, services, intents, surface: 'admin' }), config.ADMIN_PORT, config.ADMIN_HOST));
    logger.info({ port: config.ADMIN_PORT, host: config.ADMIN_HOST }, 'admin and metrics listening');
  }
  return async () => {
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    await services.close();
    if (readiness !== redis) await readiness.quit().catch(() => undefined);
    await redis.quit().catch(() => undefined);
  };
}

async function main(): Promise<void> {
  // First: from here no error reaches standard error the way Node prints it, with its fields.
  const end = installProcessEnd(say);
  const mode = readMode(process.argv[2]);
  const config = readConfig();
  const logger = createLogger(config.LOG_LEVEL);
  end.useLogger(logger);
  let mappings: MappingSet;
  let keywords: KeywordTable;
  try {
    mappings = loadMappings(config.MAPPING_DIR);
    keywords = loadKeywordTable(config.KEYWORDS_FILE ?? path.join(config.MAPPING_DIR, 'keywords.json'));
  } catch (err) {
    say(`The gateway cannot start; a data file is invalid:\n${(err as Error).message}`);
    process.exit(1);
  }

  // Settings that are valid but leave a promise unkept: say so once, loudly, at start.
  if (!config.DATA_KEY) logger.warn('DATA_KEY is not set: messages (and sensitive reports) are stored in clear in Redis until they reach Primero');
  if (!config.HASH_KEY && !config.DATA_KEY) logger.warn('HASH_KEY is not set: sender hashes use a public development key, so anyone can recompute them from a phone number');
  if (config.ADMIN_TOKEN && config.ADMIN_TOKEN.length < MIN_ADMIN_TOKEN_LENGTH) logger.warn(`ADMIN_TOKEN is shorter than ${MIN_ADMIN_TOKEN_LENGTH} characters: it guards /admin, the dashboard and /metrics; use openssl rand -hex 32 (refused when NODE_ENV=production)`);
  const windowWarning = idempotencyWindowWarning(config);
  if (windowWarning) logger.warn(windowWarning);
  if (mappings.has('feedback') && config.SENSITIVE_CATEGORIES.length && !config.SENSITIVE_FOCAL_POINT) {
    logger.warn('SENSITIVE_FOCAL_POINT is not set: sensitive reports are created and flagged but assigned to nobody');
  }

  const legacyKey = await legacyHashKeyProblem(config);
  if (legacyKey) {
    say(`The gateway cannot start:\n  - ${legacyKey}`);
    process.exit(1);
  }

  const stops: Stop[] = [];
  try {
    if (mode !== 'worker') stops.push(await startApi(config, logger, mappings, keywords));
    if (mode !== 'api') {
      const workers: RunningWorkers = startWorkers(config, logger, mappings);
      stops.push((ms) => workers.close(ms));
      logger.info({ mode }, 'workers started');
    }
  } catch (err) {
    logger.fatal({ err }, 'start failed');
    process.exit(1);
  }

  end.running(logger, stops, config.SHUTDOWN_DEADLINE_MS);
}

void main();
