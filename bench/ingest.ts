/** Ingest load: one RapidPro referral body per request, 32 keep-alive connections, from wrk or a Node client. */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { percentile, runLoad, type LoadResult } from './load';
import { REQUESTS, ROOT, TOKEN } from './settings';

export const referralBody = () =>
  JSON.stringify({
    contact: { uuid: randomUUID(), urn: 'tel:+250788000000' },
    flow: { uuid: '649754a7-5692-4b14-a1a9-e4c5fe4d18b4' },
    run: { uuid: randomUUID() },
    results: { concern: { value: 'bench message', category: 'All Responses' }, age: { value: '12', category: 'Valid' } },
  });

export const load = (port: number, total: number) =>
  runLoad({ port, path: '/webhooks/rapidpro/referral', headers: { Authorization: `Token ${TOKEN}`, 'Content-Type': 'application/json' }, body: referralBody, total, concurrency: 32 });

export interface IngestFigures {
  rps: number;
  p99: number;
  non2xx: number;
  requests: number;
}

export const WRK = ['/usr/bin/wrk', '/usr/local/bin/wrk'].find((p) => existsSync(p));

/**
 * With wrk installed (apt-get install wrk) the load comes from a C client, which leaves the gateway the CPU a
 * Node load generator would take on a 2-core machine; otherwise from bench/load.ts.
 */
export function ingestRound(port: number, seconds: number): Promise<IngestFigures> {
  if (!WRK) return load(port, REQUESTS).then(figures);
  return new Promise((resolve, reject) => {
    execFile(WRK, ['-t2', '-c32', `-d${seconds}s`, '-s', path.join(ROOT, 'bench', 'wrk-referral.lua'), `http://127.0.0.1:${port}/`], { env: { ...process.env, BENCH_TOKEN: TOKEN } }, (err, stdout) => {
      const m = /RESULT rps=([\d.]+) p50=([\d.]+) p99=([\d.]+) non2xx=(\d+) requests=(\d+)/.exec(stdout);
      if (err || !m) return reject(err ?? new Error(`wrk printed no result: ${stdout}`));
      resolve({ rps: Number(m[1]), p99: Number(m[3]), non2xx: Number(m[4]), requests: Number(m[5]) });
    });
  });
}

export function figures(r: LoadResult): IngestFigures {
  const ok = Object.entries(r.statuses).filter(([s]) => Number(s) >= 200 && Number(s) < 300).reduce((n, [, c]) => n + c, 0);
  return { rps: r.latenciesMs.length / r.seconds, p99: percentile(r.latenciesMs, 99), non2xx: r.latenciesMs.length - ok, requests: r.latenciesMs.length };
}

