import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import { createRedis, waitForRedis } from '../../src/queues/connection';

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });

/** Compose hands the gateway the Redis password as a secret file, never in REDIS_URL or the environment. */
describe('REDIS_PASSWORD_FILE', () => {
  // Characters that break a password pasted into a URL unencoded.
  const password = 'p@ss:w/rd%#?&x';
  let dir: string;
  let port: number;
  let server: ReturnType<typeof spawn>;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'pmg-redis-pw-'));
    port = await freePort();
    server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--requirepass', password], { stdio: 'ignore' });
    const probe = createRedis(`redis://:${encodeURIComponent(password)}@127.0.0.1:${port}`, 'worker');
    probe.on('error', () => undefined);
    await waitForRedis(probe, 10_000);
    await probe.quit();
  });
  afterAll(async () => {
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  });

  const minimal = { NODE_ENV: 'test', PRIMERO_URL: 'https://primero.example.org', PRIMERO_USER: 'u', PRIMERO_PASSWORD: 'p' };

  it('connects with the password read from the file (trailing newline dropped, any character safe)', async () => {
    const file = path.join(dir, 'redis_password');
    writeFileSync(file, `${password}\n`);
    const loaded = loadConfig({ ...minimal, REDIS_URL: `redis://127.0.0.1:${port}`, REDIS_PASSWORD_FILE: file });
    if (!loaded.ok) throw new Error(loaded.problems.join('\n'));
    const redis = createRedis(loaded.config.REDIS_URL, 'producer');
    redis.on('error', () => undefined);
    try {
      await waitForRedis(redis, 5000);
      expect(await redis.ping()).toBe('PONG');
    } finally {
      await redis.quit();
    }
  });

  it('names the setting, never the password or the path contents, when the file cannot be read', () => {
    const loaded = loadConfig({ ...minimal, REDIS_PASSWORD_FILE: path.join(dir, 'missing') });
    expect(loaded).toEqual({ ok: false, problems: ['REDIS_PASSWORD_FILE: cannot be read (ENOENT)'] });
  });
});
