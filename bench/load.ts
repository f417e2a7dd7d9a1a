import http from 'node:http';

export interface LoadResult {
  latenciesMs: number[];
  seconds: number;
  statuses: Record<number, number>;
}

/** `concurrency` keep-alive connections sending `total` requests, each body from `body(i)`. */
export async function runLoad(opts: {
  port: number;
  path: string;
  headers: Record<string, string>;
  body: (i: number) => string;
  total: number;
  concurrency: number;
}): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.concurrency });
  const latenciesMs: number[] = [];
  const statuses: Record<number, number> = {};
  let next = 0;
  const one = (i: number) =>
    new Promise<void>((resolve, reject) => {
      const body = opts.body(i);
      const started = process.hrtime.bigint();
      const req = http.request(
        { host: '127.0.0.1', port: opts.port, path: opts.path, method: 'POST', agent, headers: { ...opts.headers, 'Content-Length': Buffer.byteLength(body) } },
        (res) => {
          res.resume();
          res.on('end', () => {
            latenciesMs.push(Number(process.hrtime.bigint() - started) / 1e6);
            statuses[res.statusCode ?? 0] = (statuses[res.statusCode ?? 0] ?? 0) + 1;
            resolve();
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: opts.concurrency }, async () => {
      while (next < opts.total) await one(next++);
    }),
  );
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  agent.destroy();
  latenciesMs.sort((a, b) => a - b);
  return { latenciesMs, seconds, statuses };
}

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}
