/**
 * What REDIS_MIN_REPLICAS_ACK=1 costs the durable ingest: two API processes against the same primary, one with
 * the setting and one without, loaded in alternating rounds while one replica is attached throughout, so the
 * replication stream is the same in both and only the WAIT before each 2xx differs. The timeout is the gateway's
 * own (REDIS_REPLICA_ACK_TIMEOUT_MS from the environment, else its default).
 */
import type { Redis } from 'ioredis';
import { describeShares, type CpuShares, type CpuTimeline } from './cpu';
import { record } from './figures';
import { ingestRound, load, WRK, type IngestFigures } from './ingest';
import { freePort, startProcess, type Proc } from './processes';
import { startReplica, type Replica } from './replica';
import { NODE_FLAGS, PREFIX, REDIS_URL, REQUESTS, ROUND_SECONDS, ROUNDS } from './settings';

interface Round extends IngestFigures {
  cpu: CpuShares;
  /** WAIT commands the primary ran during the round (INFO commandstats). */
  waits: number;
  /** Cores the replica kept busy, on average. */
  replicaCpu: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function waitCalls(redis: Redis): Promise<number> {
  return Number(/^cmdstat_wait:calls=(\d+)/m.exec(await redis.info('commandstats'))?.[1] ?? 0);
}

async function measuredRound(port: number, redis: Redis, timeline: CpuTimeline, replica: Replica): Promise<Round> {
  const waitsBefore = await waitCalls(redis);
  const [from, replicaBefore] = [Date.now(), replica.cpuSeconds()];
  const figures = await ingestRound(port, ROUND_SECONDS);
  const to = Date.now();
  const replicaCpu = (replica.cpuSeconds() - replicaBefore) / Math.max(0.001, (to - from) / 1000);
  return { ...figures, cpu: timeline.shares(from, to), waits: (await waitCalls(redis)) - waitsBefore, replicaCpu };
}

function describe(replicas: number, rounds: Round[]): string {
  const rps = median(rounds.map((r) => r.rps));
  const requests = rounds.reduce((n, r) => n + r.requests, 0);
  const waits = rounds.reduce((n, r) => n + r.waits, 0);
  const { cpu, replicaCpu } = rounds.find((r) => r.rps === rps)!;
  const p99 = median(rounds.map((r) => r.p99));
  return `  REDIS_MIN_REPLICAS_ACK=${replicas}  ${rps.toFixed(0)} req/s, p99 ${p99.toFixed(1)} ms, ${(waits / requests).toFixed(3)} WAITs per request (${describeShares(cpu)}; the replica ${replicaCpu.toFixed(2)} cores)`;
}

/** Alternating rounds on the two API processes, the first to go swapping each round. */
async function alternate(ports: { wait: number; none: number }, redis: Redis, timeline: CpuTimeline, replica: Replica) {
  await load(ports.wait, 500);
  await load(ports.none, 500);
  const wait: Round[] = [];
  const none: Round[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const sides: Array<[number, Round[]]> = [
      [ports.wait, wait],
      [ports.none, none],
    ];
    for (const [port, rounds] of round % 2 ? sides.reverse() : sides) rounds.push(await measuredRound(port, redis, timeline, replica));
  }
  return { wait, none };
}

async function compare(baseEnv: Record<string, string>, redis: Redis, timeline: CpuTimeline, replica: Replica): Promise<string[]> {
  const ports = { wait: await freePort(), none: await freePort() };
  const apis: Proc[] = [];
  try {
    for (const [port, replicas] of [
      [ports.wait, 1],
      [ports.none, 0],
    ] as const) {
      const env = { ...baseEnv, PORT: String(port), QUEUE_PREFIX: `${PREFIX}-replicas${replicas}`, REDIS_MIN_REPLICAS_ACK: String(replicas) };
      apis.push(await startProcess([...NODE_FLAGS, 'dist/src/main.js', 'api'], env, port));
    }
    const { wait, none } = await alternate(ports, redis, timeline, replica);
    const lines = [
      `replica-ack: ${ROUNDS} alternating rounds of ${WRK ? `${ROUND_SECONDS} s (wrk)` : `${REQUESTS} requests (node client)`}, distinct messages, 32 keep-alive connections; medians;` +
        ` one replica (port ${replica.port}) attached in both; REDIS_REPLICA_ACK_TIMEOUT_MS ${process.env.REDIS_REPLICA_ACK_TIMEOUT_MS ?? 'default'}`,
      describe(1, wait),
      describe(0, none),
    ];
    const refused = [...wait, ...none].reduce((n, r) => n + r.non2xx, 0);
    if (refused > 0) return [...lines, `  min_replicas_ack_cost not recorded: ${refused} requests were not answered 2xx`];
    record('min_replicas_ack_cost', median(wait.map((r) => r.rps)) / median(none.map((r) => r.rps)));
    return lines;
  } finally {
    await Promise.all(apis.map((a) => a.stop()));
  }
}

/** The part BENCH_PARTS calls `replica-ack`: min_replicas_ack_cost, or one line saying why it was skipped. */
export async function replicaAckCost(baseEnv: Record<string, string>, redis: Redis, timeline: CpuTimeline): Promise<string[]> {
  const replica = await startReplica(REDIS_URL, redis);
  if ('skip' in replica) return [`replica-ack: skipped, ${replica.skip}`];
  try {
    return await compare(baseEnv, redis, timeline, replica);
  } finally {
    await replica.stop();
  }
}
