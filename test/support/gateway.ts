import { Writable } from 'node:stream';
import path from 'node:path';
import type { Express } from 'express';
import type { Redis } from 'ioredis';
import type { Queue } from 'bullmq';
import request from 'supertest';
import { createApp } from '../../src/app';
import { loadConfig, type Config } from '../../src/config';
import { createLogger } from '../../src/logger';
import { loadMappings, type MappingSet } from '../../src/mappings';
import { createRedis, waitForRedis } from '../../src/queues/connection';
import { buildApiServices, type ApiServices } from '../../src/api-services';
import { loadKeywordTable } from '../../src/keyword-table';
import { SCHEDULED_QUEUES } from '../../src/queues/jobs';
import { QUEUES } from '../../src/queues/names';
import { deleteByPrefix, gatewayKey, scanKeys } from '../../src/store/keys';
import type { ReferenceStore } from '../../src/store/references';
import { startWorkers, type RunningWorkers } from '../../workers/run-worker';
import { untilDrained } from './eventually';
import { PRIMERO } from './primero-fake';

export const TEST_REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const WEBHOOK_TOKEN = 'test-webhook-token-123';
/** A test gateway's web push settings: its VAPID keys and, when given, the local push service it may reach. */
export function webPushEnv(vapid: { publicKey: string; privateKey: string }, pushHost?: string): Record<string, string> {
  return {
    VAPID_PUBLIC_KEY: vapid.publicKey,
    VAPID_PRIVATE_KEY: vapid.privateKey,
    VAPID_SUBJECT: 'mailto:ops@example.org',
    ...(pushHost ? { PUSH_ENDPOINT_HOSTS: pushHost } : {}),
  };
}

/** Admin routes and /metrics (on the shared port) need it; a test may override it. */
export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';

export function testConfig(prefix: string, overrides: Record<string, string> = {}): Config {
  const result = loadConfig({
    NODE_ENV: 'test',
    REDIS_URL: TEST_REDIS_URL,
    QUEUE_PREFIX: prefix,
    PRIMERO_URL: PRIMERO,
    PRIMERO_USER: 'sms_gateway',
    PRIMERO_PASSWORD: 'secret-password',
    PRIMERO_TIMEOUT_MS: '300',
    RAPIDPRO_WEBHOOK_TOKEN: WEBHOOK_TOKEN,
    RETRY_BASE_MS: '20',
    RETRY_MAX_MS: '100',
    AUTH_FAILURE_PAUSE_MS: '200',
    PRIMERO_RATE_PER_SECOND: '1000',
    LOG_LEVEL: 'debug',
    ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    ...overrides,
  });
  if (!result.ok) throw new Error(result.problems.join('\n'));
  return result.config;
}

export function shippedKeywords() {
  return loadKeywordTable(path.join(__dirname, '..', '..', 'flows', 'keywords.json'));
}

export function shippedMappings(): MappingSet {
  return loadMappings(path.join(__dirname, '..', '..', 'flows'));
}

/** Everything the gateway logged, as raw text, so a test can prove what is absent from it. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  }
  get text(): string {
    return this.lines.join('\n');
  }
}

export interface Gateway {
  app: Express;
  config: Config;
  logs: LogCapture;
  redis: Redis;
  references: ReferenceStore;
  services: ApiServices;
  queue: Queue;
  workers: RunningWorkers | null;
  close(): Promise<void>;
}

/** The real app and, unless told otherwise, the real workers, against real Redis under a private prefix. */
export async function startGateway(opts: {
  prefix: string;
  env?: Record<string, string>;
  mappings?: MappingSet;
  workers?: boolean;
}): Promise<Gateway> {
  const config = testConfig(opts.prefix, opts.env);
  const logs = new LogCapture();
  const logger = createLogger(config.LOG_LEVEL, logs);
  const mappings = opts.mappings ?? shippedMappings();
  const redis = createRedis(config.REDIS_URL, 'producer');
  redis.on('error', () => undefined);
  await waitForRedis(redis, 5000);
  const services = buildApiServices(config, redis, logger, shippedKeywords(), mappings);
  const app = createApp({ config, logger, redis, services, intents: [...mappings.keys()] });
  const workers = opts.workers === false ? null : startWorkers(config, logger, mappings);
  const queue = services.registry.get(QUEUES.intake);
  return {
    app,
    config,
    logs,
    redis,
    references: services.references,
    services,
    queue,
    workers,
    async close() {
      if (workers) await workers.close(5000);
      await services.close();
      await deleteByPrefix(redis, config.QUEUE_PREFIX);
      await redis.quit();
    },
  };
}


export function uniquePrefix(name: string): string {
  return `test-${name}-${process.pid}-${Date.now().toString(36)}`;
}

/** Waits until every queue of the gateway that carries messages (not the scheduled ones) has drained. */
export function untilGatewayDrained(gw: Pick<Gateway, 'services'>, timeoutMs?: number): Promise<void> {
  return untilDrained(gw.services.registry.all().filter((q) => !SCHEDULED_QUEUES.has(q.name)), timeoutMs);
}

/**
 * The end of every feedback merge window (FEEDBACK_MERGE_WINDOW_SECONDS): each is a Redis key with that TTL, so
 * expiring them now is the window passing, without a test sleeping through it.
 */
export async function endFeedbackMergeWindows(gw: Pick<Gateway, 'redis' | 'config'>): Promise<void> {
  for await (const keys of scanKeys(gw.redis, gatewayKey(gw.config.QUEUE_PREFIX, 'feedback-window', '*'))) if (keys.length) await gw.redis.del(...keys);
}

/** What Prometheus scrapes (with the admin token the shared port asks for); a refused scrape fails the test. */
export async function scrapeMetrics(gw: Pick<Gateway, 'app' | 'config'>): Promise<string> {
  const res = await request(gw.app).get('/metrics').set('Authorization', `Bearer ${gw.config.ADMIN_TOKEN}`);
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return res.text;
}
