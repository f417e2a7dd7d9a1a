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
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { percentile, runLoad, type LoadResult } from './load';
import { PrimeroStandIn } from './primero-standin';

const ROOT = path.join(__dirname, '..');
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 6000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const DRAIN = Number(process.env.BENCH_DRAIN_CASES ?? 3000);
const ROUND_SECONDS = Number(process.env.BENCH_ROUND_SECONDS ?? 8);
const TOKEN = 'bench-token-0123456789';
const PREFIX = `bench-${Date.now().toString(36)}`;

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });

interface Proc {
  child: ChildProcess;
  maxRssMb: number;
  stop(): Promise<void>;
}

const answers = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

/**
 * Starts the built gateway (node dist/…, as production runs it) or a bench helper, waits until it listens on
 * `port` (or simply starts, for a worker), and samples its resident memory from /proc.
 */
async function startProcess(args: string[], env: Record<string, string>, port: number | null): Promise<Proc> {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  const keep = (d: Buffer) => {
    tail = (tail + d.toString()).slice(-4000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const proc: Proc = {
    child,
    maxRssMb: 0,
    async stop() {
      clearInterval(sampler);
      if (child.exitCode !== null) return;
      await new Promise((r) => {
        child.once('exit', r);
        child.kill('SIGTERM');
      });
    },
  };
  const sampler = setInterval(() => {
    try {
      const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0);
      proc.maxRssMb = Math.max(proc.maxRssMb, kb / 1024);
    } catch {
      // process gone
    }
  }, 100);
  const deadline = Date.now() + 30_000;
  while (port !== null && !(await answers(port))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${args.join(' ')} did not start: ${tail}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return proc;
}

const referralBody = () =>
  JSON.stringify({
    contact: { uuid: randomUUID(), urn: 'tel:+250788000000' },
    flow: { uuid: '649754a7-5692-4b14-a1a9-e4c5fe4d18b4' },
    run: { uuid: randomUUID() },
    results: { concern: { value: 'bench message', category: 'All Responses' }, age: { value: '12', category: 'Valid' } },
  });

const load = (port: number, total: number) =>
  runLoad({ port, path: '/webhooks/rapidpro/referral', headers: { Authorization: `Token ${TOKEN}`, 'Content-Type': 'application/json' }, body: referralBody, total, concurrency: 32 });

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

interface IngestFigures {
  rps: number;
  p99: number;
  non2xx: number;
}

const WRK = ['/usr/bin/wrk', '/usr/local/bin/wrk'].find((p) => existsSync(p));
/** The heap limits the Dockerfile runs the gateway with (see README: memory). */
const NODE_FLAGS = ['--max-old-space-size=128', '--max-semi-space-size=8'];

/**
 * With wrk installed (apt-get install wrk) the load comes from a C client, which leaves the gateway the CPU a
 * Node load generator would take on a 2-core machine; otherwise from bench/load.ts.
 */
function ingestRound(port: number, seconds: number): Promise<IngestFigures> {
  if (!WRK) return load(port, REQUESTS).then(figures);
  return new Promise((resolve, reject) => {
    execFile(WRK, ['-t2', '-c32', `-d${seconds}s`, '-s', path.join(ROOT, 'bench', 'wrk-referral.lua'), `http://127.0.0.1:${port}/`], { env: { ...process.env, BENCH_TOKEN: TOKEN } }, (err, stdout) => {
      const m = /RESULT rps=([\d.]+) p50=([\d.]+) p99=([\d.]+) non2xx=(\d+)/.exec(stdout);
      if (err || !m) return reject(err ?? new Error(`wrk printed no result: ${stdout}`));
      resolve({ rps: Number(m[1]), p99: Number(m[3]), non2xx: Number(m[4]) });
    });
  });
}

function figures(r: LoadResult): IngestFigures {
  const ok = Object.entries(r.statuses).filter(([s]) => Number(s) >= 200 && Number(s) < 300).reduce((n, [, c]) => n + c, 0);
  return { rps: r.latenciesMs.length / r.seconds, p99: percentile(r.latenciesMs, 99), non2xx: r.latenciesMs.length - ok };
}

/** Queues `cases` messages through the API, starts a worker, and times until every case exists in the stand-in. */
async function drain(primero: PrimeroStandIn, delayMs: number, cases: number, baseEnv: Record<string, string>): Promise<{ rate: number; rssMb: number; duplicates: number }> {
  const prefix = `${PREFIX}-drain${delayMs}`;
  const env = { ...baseEnv, QUEUE_PREFIX: prefix, INTAKE_CONCURRENCY: '128', PRIMERO_RATE_PER_SECOND: '10000', PRIMERO_TIMEOUT_MS: '10000' };
  const port = await freePort();
  const api = await startProcess([...NODE_FLAGS, 'dist/src/main.js', 'api'], { ...env, PORT: String(port) }, port);
  const queued = await load(port, cases);
  await api.stop();
  if (figures(queued).non2xx > 0) throw new Error(`drain setup: ${figures(queued).non2xx} requests were not accepted`);
  primero.created.clear();
  primero.duplicates = 0;
  primero.delayMs = delayMs;
  const worker = await startProcess([...NODE_FLAGS, 'dist/src/main.js', 'worker'], env, null);
  const t0 = Date.now();
  let first = 0;
  while (primero.created.size < cases) {
    if (!first && primero.created.size > 0) first = Date.now();
    if (Date.now() - t0 > 180_000) throw new Error(`drain stalled at ${primero.created.size}/${cases}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const seconds = (Date.now() - (first || t0)) / 1000;
  await worker.stop();
  return { rate: cases / seconds, rssMb: worker.maxRssMb, duplicates: primero.duplicates };
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

    const cpu = os.cpus();
    const row = (name: string, value: string, target: string, ok: boolean) => console.log(`${ok ? 'PASS' : 'MISS'}  ${name.padEnd(44)} ${value.padEnd(22)} target ${target}`);
    console.log(`machine: ${cpu.length} x ${cpu[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}, ${new Date().toISOString()}`);
    console.log(`ingest: ${ROUNDS} alternating rounds of ${WRK ? `${ROUND_SECONDS} s (wrk)` : `${REQUESTS} requests (node client)`}, distinct messages, 32 keep-alive connections; medians`);
    row('gateway ingest (durable, LOG_LEVEL=info)', `${gwRps.toFixed(0)} req/s`, '-', true);
    row('bare express (parse JSON, answer)', `${bxRps.toFixed(0)} req/s`, '-', true);
    row('ratio gateway / bare express', `${(gwRps / bxRps).toFixed(2)}x`, '>= 0.8x', gwRps / bxRps >= 0.8);
    row('gateway p99 acknowledgement latency', `${gwP99.toFixed(1)} ms`, '< 50 ms', gwP99 < 50);
    row(`drain, Primero at 0 ms (${DRAIN} cases)`, `${fast.rate.toFixed(0)} cases/s`, '>= 500 cases/s', fast.rate >= 500);
    row(`drain, Primero at 200 ms (${Math.max(300, Math.floor(DRAIN / 2))} cases)`, `${slow.rate.toFixed(0)} cases/s`, '>= 150 cases/s', slow.rate >= 150);
    row('duplicate creates seen by Primero', `${fast.duplicates + slow.duplicates}`, '0', fast.duplicates + slow.duplicates === 0);
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
