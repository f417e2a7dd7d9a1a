/**
 * The all-in-one process (`npm start`: API and workers in one node) under ingest load while it drains into the
 * Primero stand-in, then until its intake queue is empty: its peak resident memory (VmHWM) is the figure.
 */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { ingestRound, type IngestFigures } from './ingest';
import { freePort, startProcess } from './processes';
import type { PrimeroStandIn } from './primero-standin';
import { NODE_FLAGS, PREFIX, ROUND_SECONDS } from './settings';

export interface AllInOneFigures {
  ingest: IngestFigures;
  peakMb: number;
  cases: number;
  drainSeconds: number;
}

async function untilEmpty(queue: Queue, deadlineMs: number): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children');
    if (Object.values(counts).every((n) => n === 0)) return;
    if (Date.now() > deadline) throw new Error(`all-in-one: intake did not drain (${JSON.stringify(counts)})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Ingest for BENCH_ROUND_SECONDS against `all` with the drain running, then the rest of the drain. */
export async function allInOne(primero: PrimeroStandIn, baseEnv: Record<string, string>, redis: Redis): Promise<AllInOneFigures> {
  const prefix = `${PREFIX}-all`;
  // The drain's settings: the most jobs in flight at once, so the most memory the worker side can hold.
  const env = { ...baseEnv, QUEUE_PREFIX: prefix, INTAKE_CONCURRENCY: '128', PRIMERO_RATE_PER_SECOND: '10000', PRIMERO_TIMEOUT_MS: '10000' };
  primero.created.clear();
  primero.duplicates = 0;
  primero.delayMs = 0;
  const port = await freePort();
  const all = await startProcess([...NODE_FLAGS, 'dist/src/main.js', 'all'], { ...env, PORT: String(port) }, port);
  const queue = new Queue('intake', { connection: redis, prefix });
  try {
    const ingest = await ingestRound(port, ROUND_SECONDS);
    const t0 = Date.now();
    await untilEmpty(queue, 180_000);
    const drainSeconds = (Date.now() - t0) / 1000;
    await all.stop();
    return { ingest, peakMb: all.maxRssMb, cases: primero.created.size, drainSeconds };
  } finally {
    await all.stop();
    await queue.close();
  }
}
