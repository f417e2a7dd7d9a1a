import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

describe('npm run admin under a Redis Cluster', () => {
  it('refuses an untagged QUEUE_PREFIX as the gateway does, in one line, before connecting', async () => {
    const env = { ...process.env, REDIS_CLUSTER_NODES: '127.0.0.1:7099', QUEUE_PREFIX: 'pmg' };
    const run = promisify(execFile)('npx', ['tsx', 'src/cli/admin.ts', 'overview'], { env, cwd: `${__dirname}/../..`, timeout: 20000 });
    const failed = await run.then(() => null, (err: { code?: number; stderr?: string }) => err);
    expect(failed?.code).toBe(1);
    expect(failed?.stderr?.trim()).toMatch(/^QUEUE_PREFIX: must be a hash tag such as \{pmg\} when REDIS_CLUSTER_NODES is set/);
  }, 30000);
});
