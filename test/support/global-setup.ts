import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { Redis } from 'ioredis';
import { browserTestRequired, findChromium } from './chromium';

const ROOT = path.join(__dirname, '..', '..');
const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

async function redisAnswers(): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
    return true;
  } catch (err) {
    // A Redis that asks for a password does answer; the tests that need one bring their own.
    return /NOAUTH/.test(String(err));
  } finally {
    client.disconnect();
  }
}

const installed = (command: string): boolean => {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

/**
 * Before any test: a Redis must answer on REDIS_URL (a local one is started through scripts/ensure-redis.sh when
 * none does, which needs redis-server), and the browser test must find Chromium. What is missing is said in
 * one line, instead of every integration file timing out in its hooks.
 */
export default async function globalSetup(): Promise<void> {
  if (!(await redisAnswers())) {
    // Only a Redis that must be started needs the binary (ensure-redis.sh installs it where it can); one already
    // answering on REDIS_URL, e.g. in Docker, does not.
    execFileSync('bash', [path.join(ROOT, 'scripts', 'ensure-redis.sh')], { env: { ...process.env, REDIS_URL: url }, stdio: 'inherit' });
    if (!(await redisAnswers())) throw new Error(`No Redis answers at ${url}: start one (apt-get install redis-server) or set REDIS_URL`);
  }
  if (!installed('redis-server')) process.stderr.write('\nredis-server is not installed; the Redis outage tests, which start their own, fail (apt-get install redis-server)\n');
  const chromium = findChromium();
  if (!chromium.found) {
    const consequence = browserTestRequired() ? 'the browser test fails' : 'the browser test is skipped (CI=1 makes this a failure)';
    process.stderr.write(`\n${chromium.problem}; ${consequence}\n`);
  }
}
