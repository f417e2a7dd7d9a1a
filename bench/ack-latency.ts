/**
 * Acknowledgement latency of POST /webhooks/rapidpro/referral: the real app, durable enqueue into a real
 * Redis, 32 concurrent keep-alive connections, every message distinct. Workers are off: this measures
 * what RapidPro waits for, not case creation.
 *
 *   npm run bench                       (REDIS_URL defaults to redis://127.0.0.1:6379)
 *   BENCH_REQUESTS=20000 npm run bench
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { createApp } from '../src/app';
import { loadConfig } from '../src/config';
import { createLogger } from '../src/logger';
import { createRedis, waitForRedis } from '../src/queues/connection';
import { buildApiServices } from '../src/api-services';
import { loadKeywordTable } from '../src/keyword-table';
import { loadMappings } from '../src/mappings';

const TOTAL = Number(process.env.BENCH_REQUESTS ?? 5000);
const CONCURRENCY = 32;
const TOKEN = 'bench-token-0123456789';

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function main(): Promise<void> {
  const prefix = `bench-${Date.now().toString(36)}`;
  const parsed = loadConfig({
    ...process.env,
    QUEUE_PREFIX: prefix,
    PRIMERO_URL: 'http://primero.invalid',
    PRIMERO_USER: 'bench',
    PRIMERO_PASSWORD: 'bench',
    RAPIDPRO_WEBHOOK_TOKEN: TOKEN,
  });
  if (!parsed.ok) throw new Error(parsed.problems.join('\n'));
  const config = parsed.config;
  const redis = createRedis(config.REDIS_URL, 'producer');
  await waitForRedis(redis, 5000);
  const logger = createLogger('silent');
  const services = buildApiServices(config, redis, logger, loadKeywordTable('flows/keywords.json'), loadMappings('flows'));
  const app = createApp({ config, logger, redis, services, intents: ['referral'] });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const port = (server.address() as AddressInfo).port;
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });

  const send = (): Promise<number> =>
    new Promise((resolve, reject) => {
      const body = JSON.stringify({
        contact: { uuid: randomUUID(), urn: 'tel:+250788000000' },
        flow: { uuid: '649754a7-5692-4b14-a1a9-e4c5fe4d18b4' },
        run: { uuid: randomUUID() },
        results: { concern: { value: 'bench message', category: 'All Responses' } },
      });
      const started = process.hrtime.bigint();
      const req = http.request(
        { host: '127.0.0.1', port, path: '/webhooks/rapidpro/referral', method: 'POST', agent, headers: { Authorization: `Token ${TOKEN}`, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } },
        (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 202 ? resolve(Number(process.hrtime.bigint() - started) / 1e6) : reject(new Error(`status ${res.statusCode}`))));
        },
      );
      req.on('error', reject);
      req.end(body);
    });

  // Warm-up: JIT, connection pool, Redis scripts.
  for (let i = 0; i < 200; i++) await send();

  const latencies: number[] = [];
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < TOTAL) {
        next++;
        latencies.push(await send());
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  latencies.sort((a, b) => a - b);

  console.log(`machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}, ${new Date().toISOString()}`);
  console.log(`POST /webhooks/rapidpro/referral, ${TOTAL} distinct messages, ${CONCURRENCY} connections, durable enqueue to Redis`);
  console.log(`throughput: ${(TOTAL / seconds).toFixed(0)} req/s`);
  console.log(`ack latency ms: p50 ${percentile(latencies, 50).toFixed(2)}  p95 ${percentile(latencies, 95).toFixed(2)}  p99 ${percentile(latencies, 99).toFixed(2)}  max ${latencies.at(-1)!.toFixed(2)}`);

  agent.destroy();
  await new Promise((r) => server.close(r));
  await services.producer.queue.obliterate({ force: true });
  await services.close();
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
