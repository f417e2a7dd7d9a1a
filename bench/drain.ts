/** The drain: messages queued through the API, then a worker started and timed until Primero holds every case. */
import { figures, load } from './ingest';
import { freePort, startProcess } from './processes';
import type { PrimeroStandIn } from './primero-standin';
import { NODE_FLAGS, PREFIX } from './settings';

/**
 * Queues `cases` messages through the API, starts `workerCount` worker processes, and times until every case exists
 * in the stand-in; `from`/`to` (ms since the epoch) are the timed window.
 */
export async function drain(
  primero: PrimeroStandIn,
  delayMs: number,
  cases: number,
  baseEnv: Record<string, string>,
  workerCount = 1,
): Promise<{ rate: number; rssMb: number; duplicates: number; from: number; to: number }> {
  const prefix = `${PREFIX}-drain${delayMs}x${workerCount}`;
  const env = { ...baseEnv, QUEUE_PREFIX: prefix, INTAKE_CONCURRENCY: '128', PRIMERO_RATE_PER_SECOND: '10000', PRIMERO_TIMEOUT_MS: '10000' };
  const port = await freePort();
  const api = await startProcess([...NODE_FLAGS, 'dist/src/main.js', 'api'], { ...env, PORT: String(port) }, port);
  const queued = await load(port, cases);
  await api.stop();
  if (figures(queued).non2xx > 0) throw new Error(`drain setup: ${figures(queued).non2xx} requests were not accepted`);
  primero.created.clear();
  primero.duplicates = 0;
  primero.delayMs = delayMs;
  const workers = await Promise.all(Array.from({ length: workerCount }, () => startProcess([...NODE_FLAGS, 'dist/src/main.js', 'worker'], env, null)));
  const t0 = Date.now();
  let first = 0;
  while (primero.created.size < cases) {
    if (!first && primero.created.size > 0) first = Date.now();
    if (Date.now() - t0 > 180_000) throw new Error(`drain stalled at ${primero.created.size}/${cases}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const to = Date.now();
  const seconds = (to - (first || t0)) / 1000;
  await Promise.all(workers.map((w) => w.stop()));
  return { rate: cases / seconds, rssMb: Math.max(...workers.map((w) => w.maxRssMb)), duplicates: primero.duplicates, from: first || t0, to };
}

