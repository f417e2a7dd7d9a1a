import { spawn } from 'node:child_process';
import path from 'node:path';
import { createRedis } from '../../src/queues/connection';
import { deleteByPrefix } from '../../src/store/keys';
import { CRASH_MARKS } from '../support/crash-marks';
import { eventually } from '../support/eventually';
import { expectNoPersonalData } from '../support/personal-data';
import { TEST_REDIS_URL, uniquePrefix } from '../support/gateway';

const ROOT = path.join(__dirname, '..', '..');
const MARKS = [CRASH_MARKS.name, 'Amani', CRASH_MARKS.phone, '788123987', CRASH_MARKS.text, 'rapidpro.example.org'];

interface Ended {
  code: number | null;
  out: string;
  lines: Array<Record<string, unknown>>;
}

/**
 * The gateway as it runs (src/main.ts, worker mode) with the test's preload, which makes the process crash on
 * SIGUSR2 on an error that carries a child's name and number: what the process prints and how it ends.
 */
async function crash(prefix: string, env: Record<string, string> = {}): Promise<Ended> {
  const args = ['--import', 'tsx', '--import', './test/support/crash-on-signal.ts', 'src/main.ts', 'worker'];
  const childEnv = { ...process.env, NODE_ENV: 'test', REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: prefix, PRIMERO_URL: 'http://127.0.0.1:9', PRIMERO_USER: 'u', PRIMERO_PASSWORD: 'p', LOG_LEVEL: 'info', ...env };
  const child = spawn(process.execPath, args, { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await eventually(() => out.includes('workers started'), 20000, 'the worker process started');
  child.kill('SIGUSR2');
  const code = await exited;
  const lines = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  return { code, out, lines };
}

describe('a process that crashes on an error nothing handled', () => {
  const prefix = uniquePrefix('process-crash');
  const redis = createRedis(TEST_REDIS_URL, 'worker');

  afterAll(async () => {
    await deleteByPrefix(redis, prefix);
    await redis.quit();
  });

  it('says which class of error crashed it, stops as on SIGTERM and exits 1, printing nothing of the error', async () => {
    const { code, out, lines } = await crash(prefix);
    expect(code).toBe(1);
    expect(lines.filter((l) => l.level === 60)).toEqual([expect.objectContaining({ event: 'unhandledRejection', errorClass: 'UpstreamError', msg: 'crashed on an error nothing handled: stopping' })]);
    expect(lines.find((l) => l.msg === 'shutting down')).toMatchObject({ cause: 'unhandledRejection' });
    expect(lines.find((l) => l.msg === 'shutting down')).not.toHaveProperty('signal');
    expect(lines.map((l) => l.msg)).toContain('stopped');
    expectNoPersonalData(out, MARKS);
  }, 40000);

  it('stops the same way when the first crash is an uncaught exception', async () => {
    const { code, out, lines } = await crash(prefix, { CRASH_WITH: 'exception' });
    expect(code).toBe(1);
    expect(lines.filter((l) => l.level === 60).map((l) => [l.event, l.errorClass, l.msg])).toEqual([['uncaughtException', 'UpstreamError', 'crashed on an error nothing handled: stopping']]);
    expect(lines.find((l) => l.msg === 'shutting down')).toMatchObject({ cause: 'uncaughtException' });
    expect(lines.map((l) => l.msg)).toContain('stopped');
    expectNoPersonalData(out, MARKS);
  }, 40000);

  it('still stops gracefully when one cause rejects several promises in the same tick, and exits 1', async () => {
    const { code, out, lines } = await crash(prefix, { CRASH_REJECTIONS: '3' });
    expect(code).toBe(1);
    expect(lines.filter((l) => l.level === 60)).toHaveLength(1);
    // The later two are counted, and logged once, by class.
    expect(lines.filter((l) => l.level === 50).map((l) => [l.event, l.errorClass, l.msg])).toEqual([['unhandledRejection', 'UpstreamError', 'another error nothing handled while stopping: the stop goes on']]);
    expect(lines.find((l) => l.msg === 'stopped')).toMatchObject({ laterRejections: 2 });
    expectNoPersonalData(out, MARKS);
  }, 40000);

  it('exits 1 at once on a second crash while stopping, still printing nothing of either error', async () => {
    const { code, out, lines } = await crash(prefix, { CRASH_AGAIN_WHILE_STOPPING: '1' });
    expect(code).toBe(1);
    expect(lines.filter((l) => l.level === 60).map((l) => [l.event, l.errorClass, l.msg])).toEqual([
      ['unhandledRejection', 'UpstreamError', 'crashed on an error nothing handled: stopping'],
      ['uncaughtException', 'UpstreamError', 'crashed while stopping: exiting now'],
    ]);
    // It did not wait for the stop it was in.
    expect(lines.map((l) => l.msg)).not.toContain('stopped');
    expectNoPersonalData(out, MARKS);
  }, 40000);
});
