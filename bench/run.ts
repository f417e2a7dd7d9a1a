/**
 * npm run bench — one run on this machine, printing:
 *  1. durable ingest of POST /webhooks/rapidpro/referral (distinct messages, 32 keep-alive connections) next to
 *     a bare express app that only parses the JSON, measured alternately, with the ratio and the p99;
 *  2. the all-in-one process (npm start) under ingest while it drains, and its peak resident memory (VmHWM);
 *  3. end-to-end drain rate, webhook to Primero case, against a Primero stand-in answering in 0 ms and 200 ms;
 *  4. scale-out: 2 API and 2 worker processes against one Redis, beside 1 and 1, with who used the CPU;
 *  5. REDIS_MIN_REPLICAS_ACK=1 beside 0, with a replica started beside the bench's Redis (bench/replica-ack.ts);
 *  6. the figures of issue #15 with their targets (bench/figures.ts), then one SUMMARY line.
 * The gateway runs as its real, built processes (`node <package.json's node_flags> dist/src/main.js api|worker|all`,
 * after `npm run build`); the load comes from wrk (or this process) and Primero is a stand-in in this process.
 * BENCH_PARTS, a comma-separated list of `drain` (part 3) and `replica-ack` (part 5), runs only those. BENCH_REQUESTS, BENCH_ROUNDS, BENCH_ROUND_SECONDS, BENCH_DRAIN_CASES scale it; REDIS_URL picks the Redis.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { Redis } from 'ioredis';
import { allInOne } from './all-in-one';
import { cpuTimeline, describeShares, type CpuShares, type CpuTimeline } from './cpu';
import { acknowledgedToCase, drain, type DrainFigures } from './drain';
import { record, summary, table } from './figures';
import { ingestRound, load, WRK, type IngestFigures } from './ingest';
import { PrimeroStandIn } from './primero-standin';
import { freePort, startProcess } from './processes';
import { replicaAckCost } from './replica-ack';
import { describeScale, scaleOut } from './scale';
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

interface IngestComparison {
  gwRps: number;
  bxRps: number;
  p99: number;
  apiPeakMb: number;
  cpu: CpuShares;
}

/** The gateway's API (durable enqueue, production log level) and bare express, in alternating rounds. */
async function ingestVsBare(baseEnv: Record<string, string>, timeline: CpuTimeline): Promise<IngestComparison> {
  const apiPort = await freePort();
  const barePort = await freePort();
  const api = await startProcess([...NODE_FLAGS, 'dist/src/main.js', 'api'], { ...baseEnv, PORT: String(apiPort), QUEUE_PREFIX: `${PREFIX}-ingest` }, apiPort);
  const bare = await startProcess(['--import', 'tsx', 'bench/bare-express.ts'], { PORT: String(barePort) }, barePort);
  try {
    await load(apiPort, 500);
    await load(barePort, 500);
    const gw: Array<IngestFigures & { cpu: CpuShares }> = [];
    const bx: IngestFigures[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const from = Date.now();
      const figures = await ingestRound(apiPort, ROUND_SECONDS);
      gw.push({ ...figures, cpu: timeline.shares(from, Date.now()) });
      bx.push(await ingestRound(barePort, ROUND_SECONDS));
    }
    const refused = gw.reduce((n, f) => n + f.non2xx, 0);
    if (refused > 0) throw new Error(`${refused} ingest requests were not answered 2xx`);
    await api.stop();
    const gwRps = median(gw.map((f) => f.rps));
    return { gwRps, bxRps: median(bx.map((f) => f.rps)), p99: median(gw.map((f) => f.p99)), apiPeakMb: api.maxRssMb, cpu: gw.find((f) => f.rps === gwRps)!.cpu };
  } finally {
    await api.stop();
    await bare.stop();
  }
}

/** The drain with the default rate and concurrency (Primero at 0 and 300 ms), and the wait from 202 to case at 100 msg/s. */
async function defaultsAndLatency(primero: PrimeroStandIn, baseEnv: Record<string, string>): Promise<string[]> {
  const defaults = await drain(primero, 0, DEFAULTS_CASES, baseEnv, {}, 'defaults');
  const defaultsSlow = await drain(primero, 200, DEFAULTS_CASES, baseEnv, {}, 'defaults200');
  const latency = await acknowledgedToCase(primero, 1000, 100, baseEnv);
  record('drain_default', defaults.rate);
  record('drain_default200', defaultsSlow.rate);
  record('ack_to_case_p50', latency.p50);
  record('ack_to_case_p99', latency.p99);
  return [`drain with the defaults: ${DEFAULTS_CASES} cases at 0 ms and at 200 ms; acknowledgement to case: 1000 messages at 100/s, API and worker together`];
}

/** The drain alone, at 0 and 200 ms: drain0, drain200, rss_worker, req_per_case and cpu_per_case. */
async function drains(primero: PrimeroStandIn, baseEnv: Record<string, string>): Promise<{ lines: string[]; fast: DrainFigures; slow: DrainFigures }> {
  const fast = await drain(primero, 0, DRAIN, baseEnv);
  const slowCases = Math.max(300, Math.floor(DRAIN / 2));
  const slow = await drain(primero, 200, slowCases, baseEnv);
  record('drain0', fast.rate);
  record('drain200', slow.rate);
  record('rss_worker', Math.max(fast.rssMb, slow.rssMb));
  record('req_per_case', fast.perCase);
  record('cpu_per_case', fast.cpuMsPerCase);
  record('duplicates', fast.duplicates + slow.duplicates);
  return { lines: [`drain: ${DRAIN} cases at 0 ms, ${slowCases} at 200 ms, webhook to Primero case; Primero requests per case by route: ${fast.perRoute}`], fast, slow };
}

/** The parts BENCH_PARTS may name, run in this order; each prints its own lines and records its own figures. */
const PARTS = ['drain', 'replica-ack'] as const;
type Part = (typeof PARTS)[number];

/** BENCH_PARTS as a list, or null for the whole bench; a name it does not know stops the run before anything starts. */
function chosenParts(): Set<Part> | null {
  const names = (process.env.BENCH_PARTS ?? '').split(',').map((n) => n.trim()).filter(Boolean);
  if (names.length === 0) return null;
  const unknown = names.filter((n) => !(PARTS as readonly string[]).includes(n));
  if (unknown.length) throw new Error(`BENCH_PARTS: unknown ${unknown.join(', ')} (known: ${PARTS.join(', ')})`);
  return new Set(names as Part[]);
}

async function measureParts(parts: Set<Part>, primero: PrimeroStandIn, baseEnv: Record<string, string>, redis: Redis, timeline: CpuTimeline): Promise<string[]> {
  const lines: string[] = [];
  if (parts.has('drain')) lines.push(...(await drains(primero, baseEnv)).lines);
  if (parts.has('replica-ack')) lines.push(...(await replicaAckCost(baseEnv, redis, timeline)));
  return lines;
}

async function measure(primero: PrimeroStandIn, baseEnv: Record<string, string>, redis: Redis, timeline: CpuTimeline): Promise<string[]> {
  // Some parts only: their figures (minutes less, and less of a shared machine's time); the others print n/a.
  const parts = chosenParts();
  if (parts) return measureParts(parts, primero, baseEnv, redis, timeline);
  const ingest = await ingestVsBare(baseEnv, timeline);
  record('ingest', ingest.gwRps / ingest.bxRps);
  record('p99', ingest.p99);
  record('rss_api', ingest.apiPeakMb);
  const lines = [
    `ingest: ${ROUNDS} alternating rounds of ${WRK ? `${ROUND_SECONDS} s (wrk)` : `${REQUESTS} requests (node client)`}, distinct messages, 32 keep-alive connections; medians`,
    `  gateway ${ingest.gwRps.toFixed(0)} req/s (${describeShares(ingest.cpu)}), bare express ${ingest.bxRps.toFixed(0)} req/s`,
  ];
  if (process.env.BENCH_INGEST_ONLY) return lines;

  const all = await allInOne(primero, baseEnv, redis);
  record('rss_all', all.peakMb);
  lines.push(`all-in-one: ${all.ingest.rps.toFixed(0)} req/s while draining, then ${all.drainSeconds.toFixed(1)} s more to drain (${all.cases} cases)`);

  const { lines: drainLines, fast } = await drains(primero, baseEnv);
  lines.push(...drainLines);
  lines.push(...(await defaultsAndLatency(primero, baseEnv)));

  const scale = await scaleOut(primero, baseEnv, timeline);
  const drain1 = { rate: fast.rate, cpu: timeline.shares(fast.from, fast.to) };
  record('scale_ingest', scale.ingest2.rate / scale.ingest1.rate);
  record('scale_drain', scale.drain2.rate / drain1.rate);
  lines.push(...describeScale(scale, drain1));
  lines.push(...(await replicaAckCost(baseEnv, redis, timeline)));
  return lines;
}

async function main(): Promise<void> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
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
  const timeline = cpuTimeline(redis);
  try {
    const lines = await measure(primero, baseEnv, redis, timeline);
    const cpu = os.cpus();
    console.log(`machine: ${cpu.length} x ${cpu[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}, ${new Date().toISOString()}`);
    for (const line of [...lines, ...table(), summary()]) console.log(line);
  } finally {
    await timeline.stop();
    await wipe(redis);
    await redis.quit();
    await primero.stop();
  }
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
