/**
 * The drain: messages queued through the API, then a worker started and timed until Primero holds every case;
 * and the latency from acknowledgement to case, API and worker running together under a steady load.
 */
import { readFileSync } from 'node:fs';
import { figures, load } from './ingest';
import { percentile } from './load';
import { pacedLoad } from './paced';
import { freePort, startProcess } from './processes';
import type { PrimeroStandIn } from './primero-standin';
import { NODE_FLAGS, PREFIX } from './settings';

/** The rate limit lifted and enough jobs at once to keep a slow Primero busy; `{}` runs with the defaults. */
export const LIFTED = { INTAKE_CONCURRENCY: '128', PRIMERO_RATE_PER_SECOND: '10000' };

export interface DrainFigures {
  /** Cases per second between the 10th and the 90th percentile arrival: start-up and the last stragglers left out. */
  rate: number;
  rssMb: number;
  duplicates: number;
  /** The worker's CPU (user + system) per case between the 10th and the 90th percentile case: steadier than a rate on a shared machine. */
  cpuMsPerCase: number;
  /** Primero requests per case, in total and by route. */
  perCase: number;
  perRoute: string;
  /** The timed window (ms since the epoch): first to last case. */
  from: number;
  to: number;
}

/**
 * Cases per second in whole seconds from the 10th-percentile arrival on (up to the 90th): a limiter's
 * bursts at each window's start are counted once each, not once more at the end of the span.
 */
function rateOf(arrivals: number[]): number {
  const sorted = [...arrivals].sort((a, b) => a - b);
  const from = sorted[Math.floor(sorted.length * 0.1)]!;
  const span = sorted[Math.ceil(sorted.length * 0.9) - 1]! - from;
  const windowMs = span >= 2000 ? Math.floor(span / 1000) * 1000 : span;
  return sorted.filter((t) => t >= from && t < from + windowMs).length / (windowMs / 1000);
}

function requestsPerCase(primero: PrimeroStandIn, cases: number): Pick<DrainFigures, 'perCase' | 'perRoute'> {
  const routes = [...primero.requests.entries()].sort((a, b) => b[1] - a[1]);
  const total = routes.reduce((n, [, c]) => n + c, 0);
  return { perCase: total / cases, perRoute: routes.map(([r, c]) => `${r} ${(c / cases).toFixed(2)}`).join(', ') };
}

/** CPU time (user + system) the processes have used, in ms (/proc/<pid>/stat counts in clock ticks of 10 ms). */
function cpuMsOf(pids: number[]): number {
  return pids.reduce((ms, pid) => {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ms + (Number(fields[11]) + Number(fields[12])) * 10;
  }, 0);
}

/** Waits for every case; returns the worker's CPU per case between the 10 % and the 90 % marks. */
async function waitForCases(primero: PrimeroStandIn, cases: number, pids: number[] = []): Promise<number> {
  const t0 = Date.now();
  let early: [number, number] | null = null;
  let late: [number, number] | null = null;
  while (primero.created.size < cases) {
    if (Date.now() - t0 > 180_000) throw new Error(`drain stalled at ${primero.created.size}/${cases}`);
    if (pids.length && !early && primero.created.size >= cases * 0.1) early = [primero.created.size, cpuMsOf(pids)];
    if (pids.length && !late && primero.created.size >= cases * 0.9) late = [primero.created.size, cpuMsOf(pids)];
    await new Promise((r) => setTimeout(r, 20));
  }
  return early && late && late[0] > early[0] ? (late[1] - early[1]) / (late[0] - early[0]) : NaN;
}

/**
 * Queues `cases` messages through the API, starts `workerCount` worker processes with `settings`, and times until
 * every case exists in the stand-in.
 */
export async function drain(
  primero: PrimeroStandIn,
  delayMs: number,
  cases: number,
  baseEnv: Record<string, string>,
  settings: Record<string, string> = LIFTED,
  name = `${delayMs}`,
  workerCount = 1,
): Promise<DrainFigures> {
  const env = { ...baseEnv, QUEUE_PREFIX: `${PREFIX}-drain${name}`, PRIMERO_TIMEOUT_MS: '10000', ...settings };
  const port = await freePort();
  const api = await startProcess([...NODE_FLAGS, 'dist/src/main.js', 'api'], { ...env, PORT: String(port) }, port);
  const queued = await load(port, cases);
  await api.stop();
  if (figures(queued).non2xx > 0) throw new Error(`drain setup: ${figures(queued).non2xx} requests were not accepted`);
  primero.reset(delayMs);
  const workers = await Promise.all(Array.from({ length: workerCount }, () => startProcess([...NODE_FLAGS, 'dist/src/main.js', 'worker'], env, null)));
  const cpuMsPerCase = await waitForCases(primero, cases, workers.map((w) => w.child.pid!));
  await Promise.all(workers.map((w) => w.stop()));
  const arrivals = [...primero.arrivals.values()];
  return {
    rate: rateOf(arrivals),
    rssMb: Math.max(...workers.map((w) => w.maxRssMb)),
    duplicates: primero.duplicates,
    cpuMsPerCase,
    ...requestsPerCase(primero, cases),
    from: Math.min(...arrivals),
    to: Math.max(...arrivals),
  };
}

/**
 * API and worker together, the rate limit lifted, Primero at 0 ms, `perSecond` messages a second: how long from
 * the 202 to the create reaching Primero (p50, p99 in ms). The load stays under the drain rate, so this is the
 * wait a message has when nothing is backed up.
 */
export async function acknowledgedToCase(primero: PrimeroStandIn, cases: number, perSecond: number, baseEnv: Record<string, string>): Promise<{ p50: number; p99: number }> {
  const env = { ...baseEnv, QUEUE_PREFIX: `${PREFIX}-latency`, PRIMERO_TIMEOUT_MS: '10000', ...LIFTED };
  primero.reset(0);
  const port = await freePort();
  const api = await startProcess([...NODE_FLAGS, 'dist/src/main.js', 'api'], { ...env, PORT: String(port) }, port);
  const worker = await startProcess([...NODE_FLAGS, 'dist/src/main.js', 'worker'], env, null);
  try {
    // The worker is up only once it has filed something: its start-up is no message's wait.
    await pacedLoad(port, 20, perSecond);
    await waitForCases(primero, 20);
    primero.reset(0);
    const { acked, refused } = await pacedLoad(port, cases, perSecond);
    if (refused > 0) throw new Error(`latency run: ${refused} requests were not accepted`);
    await waitForCases(primero, cases);
    const waits = [...acked].map(([reference, at]) => Math.max(0, (primero.arrivals.get(reference) ?? NaN) - at)).sort((a, b) => a - b);
    if (waits.some(Number.isNaN)) throw new Error('latency run: a case arrived without the reference its 202 named');
    return { p50: percentile(waits, 50), p99: percentile(waits, 99) };
  } finally {
    await worker.stop();
    await api.stop();
  }
}
