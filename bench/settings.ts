/** The bench's settings: BENCH_* scale it; REDIS_URL picks the Redis (default local). */
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const ROOT = path.join(__dirname, '..');
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 6000);
export const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
export const DRAIN = Number(process.env.BENCH_DRAIN_CASES ?? 3000);
/** The drain with the default rate and concurrency: enough cases for the rate to be read within 5 %. */
export const DEFAULTS_CASES = Number(process.env.BENCH_DEFAULTS_CASES ?? 400);
export const ROUND_SECONDS = Number(process.env.BENCH_ROUND_SECONDS ?? 8);
export const TOKEN = 'bench-token-0123456789';
export const PREFIX = `bench-${Date.now().toString(36)}`;

/**
 * The heap limits npm start and the image run the gateway with: package.json's config.node_flags (README: Memory).
 * BENCH_NODE_FLAGS adds flags to the gateway's processes, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` (not allowed in NODE_OPTIONS).
 */
export const NODE_FLAGS = [
  ...(JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { config: { node_flags: string } }).config.node_flags.split(' '),
  ...(process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean),
];
