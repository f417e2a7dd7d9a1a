/**
 * npm run bench — one run on this machine, printing:
 *  1. durable ingest of POST /webhooks/rapidpro/referral (distinct messages, 32 keep-alive connections) next to
 *     a bare express app that only parses the JSON, measured alternately, with the ratio and the p99;
 *  2. end-to-end drain rate, webhook to Primero case, against a Primero stand-in answering in 0 ms and 200 ms;
 *  3. the resident memory of the API and worker processes.
 * The gateway runs as its real, built processes (`node dist/src/main.js api` / `worker`, after `npm run build`);
 * the load comes from this process.
 * BENCH_REQUESTS, BENCH_ROUNDS, BENCH_DRAIN_CASES scale it; REDIS_URL picks the Redis (default local).
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { Redis } from 'ioredis';
import { acknowledgedToCase, drain } from './drain';
import { ingestRound, load, WRK, type IngestFigures } from './ingest';
import { PrimeroStandIn } from './primero-standin';
import { freePort, startProcess } from './processes';
import { DEFAULTS_CASES, DRAIN, NODE_FLAGS, PREFIX, REDIS_URL, REQUESTS, ROUND_SECONDS, ROUNDS, TOKEN } from './settings';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function wipe(redis: Redis): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${PREFIX}*`, 'COUNT', 5000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
}

async function main(): Promise<void> {
  const redis = new Redis(REDIS_URL);
  const primero = new PrimeroStandIn();
  const primeroPort = await primero.start();
  const baseEnv = {
    REDIS_URL,
    PRIMERO_URL: `http://127.0.0.1:${primeroPort}`,
    PRIMERO_USER: 'bench',
    PRIMERO_PASSWORD: 'bench',
    RAPIDPRO_WEBHOOK_TOKEN: TOKEN,
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
    PRIMERO_POLL_INTERVAL_SECONDS: '0',
    // Without NODE_ENV=development/test the gateway refuses the public development hash key: hash as production does.
    HASH_KEY: randomBytes(32).toString('base64'),
  };
  try {
    // 1. Ingest: gateway (durable enqueue, production log level) and bare express, alternating.
    const apiPort = await freePort();
    const barePort = await freePort();
    const api = await startProcess([...NODE_FLAGS, 'dist/src/main.js', 'api'], { ...baseEnv, PORT: String(apiPort), QUEUE_PREFIX: `${PREFIX}-ingest` }, apiPort);
    const bare = await startProcess(['--import', 'tsx', 'bench/bare-express.ts'], { PORT: String(barePort) }, barePort);
    await load(apiPort, 500);
    await load(barePort, 500);
    const gw: IngestFigures[] = [];
    const bx: IngestFigures[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      gw.push(await ingestRound(apiPort, ROUND_SECONDS));
      bx.push(await ingestRound(barePort, ROUND_SECONDS));
    }
    const refused = gw.reduce((n, f) => n + f.non2xx, 0);
    if (refused > 0) throw new Error(`${refused} ingest requests were not answered 2xx`);
    const apiRss = api.maxRssMb;
    await api.stop();
    await bare.stop();
    const gwRps = median(gw.map((f) => f.rps));
    const bxRps = median(bx.map((f) => f.rps));
    const gwP99 = median(gw.map((f) => f.p99));

    if (process.env.BENCH_INGEST_ONLY) {
      console.log(`ingest only: gateway ${gwRps.toFixed(0)} req/s, bare ${bxRps.toFixed(0)} req/s, ratio ${(gwRps / bxRps).toFixed(2)}, p99 ${gwP99.toFixed(1)} ms, api rss ${apiRss.toFixed(0)} MB`);
      return;
    }
    // 2. Drain: webhook to Primero case.
    const fast = await drain(primero, 0, DRAIN, baseEnv);
    const slow = await drain(primero, 200, Math.max(300, Math.floor(DRAIN / 2)), baseEnv);
    const defaults = await drain(primero, 0, DEFAULTS_CASES, baseEnv, {}, 'defaults');
    const defaultsSlow = await drain(primero, 300, DEFAULTS_CASES, baseEnv, {}, 'defaults300');
    const latency = await acknowledgedToCase(primero, 1000, 100, baseEnv);

    const cpu = os.cpus();
    const row = (name: string, value: string, target: string, ok: boolean) => console.log(`${ok ? 'PASS' : 'MISS'}  ${name.padEnd(44)} ${value.padEnd(22)} target ${target}`);
    console.log(`machine: ${cpu.length} x ${cpu[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}, ${new Date().toISOString()}`);
    console.log(`ingest: ${ROUNDS} alternating rounds of ${WRK ? `${ROUND_SECONDS} s (wrk)` : `${REQUESTS} requests (node client)`}, distinct messages, 32 keep-alive connections; medians`);
    row('gateway ingest (durable, LOG_LEVEL=info)', `${gwRps.toFixed(0)} req/s`, '-', true);
    row('bare express (parse JSON, answer)', `${bxRps.toFixed(0)} req/s`, '-', true);
    row('ratio gateway / bare express', `${(gwRps / bxRps).toFixed(2)}x`, '>= 0.8x', gwRps / bxRps >= 0.8);
    row('gateway p99 acknowledgement latency', `${gwP99.toFixed(1)} ms`, '< 50 ms', gwP99 < 50);
    row(`drain, Primero at 0 ms (${DRAIN} cases)`, `${fast.rate.toFixed(0)} cases/s`, '>= 1000 cases/s', fast.rate >= 1000);
    row(`drain, Primero at 200 ms (${Math.max(300, Math.floor(DRAIN / 2))} cases)`, `${slow.rate.toFixed(0)} cases/s`, '>= 150 cases/s', slow.rate >= 150);
    row(`drain with the defaults (${DEFAULTS_CASES} cases)`, `${defaults.rate.toFixed(1)} cases/s`, '20 ± 5 %', Math.abs(defaults.rate / 20 - 1) <= 0.05);
    row(`drain with the defaults, Primero at 300 ms`, `${defaultsSlow.rate.toFixed(1)} cases/s`, '20 ± 5 %', Math.abs(defaultsSlow.rate / 20 - 1) <= 0.05);
    row('Primero requests per case (0 ms drain)', `${fast.perCase.toFixed(2)}`, '-', true);
    console.log(`      by route: ${fast.perRoute}`);
    row('worker CPU per case (0 ms drain)', `${fast.cpuMsPerCase.toFixed(2)} ms`, '-', true);
    row('acknowledgement to case, 100 msg/s, p50 / p99', `${latency.p50.toFixed(0)} / ${latency.p99.toFixed(0)} ms`, '-', true);
    row('duplicate creates seen by Primero', `${fast.duplicates + slow.duplicates + defaults.duplicates + defaultsSlow.duplicates}`, '0', fast.duplicates + slow.duplicates + defaults.duplicates + defaultsSlow.duplicates === 0);
    row('API process resident memory (max)', `${apiRss.toFixed(0)} MB`, '< 200 MB', apiRss < 200);
    row('worker process resident memory (max)', `${Math.max(fast.rssMb, slow.rssMb).toFixed(0)} MB`, '< 200 MB', Math.max(fast.rssMb, slow.rssMb) < 200);
  } finally {
    await wipe(redis);
    await redis.quit();
    await primero.stop();
  }
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
