/**
 * Scale-out against one Redis: ingest with one API process loaded, then two (one wrk per port, in parallel),
 * alternating; and the drain at 0 ms with two worker processes, beside the one-worker drain measured before.
 * With each figure, who used the CPU, so the line says where the ceiling is.
 */
import { drain, LIFTED } from './drain';
import { ingestRound } from './ingest';
import { ceiling, describeShares, type CpuShares, type CpuTimeline } from './cpu';
import { freePort, startProcess } from './processes';
import type { PrimeroStandIn } from './primero-standin';
import { DRAIN, NODE_FLAGS, PREFIX, ROUND_SECONDS, ROUNDS } from './settings';

export interface Measured {
  rate: number;
  cpu: CpuShares;
}

export interface ScaleFigures {
  ingest1: Measured;
  ingest2: Measured;
  drain2: Measured;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The round with the median rate, and its CPU shares. */
const medianRound = (rounds: Measured[]) => rounds.find((r) => r.rate === median(rounds.map((x) => x.rate)))!;

async function timed(timeline: CpuTimeline, run: () => Promise<number>): Promise<Measured> {
  const from = Date.now();
  const rate = await run();
  return { rate, cpu: timeline.shares(from, Date.now()) };
}

export async function scaleOut(primero: PrimeroStandIn, baseEnv: Record<string, string>, timeline: CpuTimeline): Promise<ScaleFigures> {
  const env = { ...baseEnv, QUEUE_PREFIX: `${PREFIX}-scale` };
  const ports = [await freePort(), await freePort()];
  const apis = await Promise.all(ports.map((port) => startProcess([...NODE_FLAGS, 'dist/src/main.js', 'api'], { ...env, PORT: String(port) }, port)));
  const one: Measured[] = [];
  const two: Measured[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      one.push(await timed(timeline, async () => (await ingestRound(ports[0]!, ROUND_SECONDS)).rps));
      two.push(await timed(timeline, async () => (await Promise.all(ports.map((p) => ingestRound(p, ROUND_SECONDS)))).reduce((n, f) => n + f.rps, 0)));
    }
  } finally {
    await Promise.all(apis.map((a) => a.stop()));
  }
  const d = await drain(primero, 0, DRAIN, baseEnv, LIFTED, '0x2', 2);
  return { ingest1: medianRound(one), ingest2: medianRound(two), drain2: { rate: d.rate, cpu: timeline.shares(d.from, d.to) } };
}

/** The lines the bench prints for scale-out: each figure, its CPU shares, and where the ceiling is. */
export function describeScale(s: ScaleFigures, drain1: Measured): string[] {
  const line = (what: string, m: Measured, unit: string) => `  ${what.padEnd(34)} ${`${m.rate.toFixed(0)} ${unit}`.padEnd(14)} ${describeShares(m.cpu)}`;
  return [
    'scale-out, one Redis (CPU in cores busy, averaged over the measurement):',
    line('ingest, 1 API process', s.ingest1, 'req/s'),
    line('ingest, 2 API processes', s.ingest2, 'req/s'),
    line('drain at 0 ms, 1 worker process', drain1, 'cases/s'),
    line('drain at 0 ms, 2 worker processes', s.drain2, 'cases/s'),
    `  ceiling: ingest 1 → 2 APIs ${(s.ingest2.rate / s.ingest1.rate).toFixed(2)}x, now ${ceiling(s.ingest2.cpu)}; drain 1 → 2 workers ${(s.drain2.rate / drain1.rate).toFixed(2)}x, now ${ceiling(s.drain2.cpu)}`,
  ];
}
