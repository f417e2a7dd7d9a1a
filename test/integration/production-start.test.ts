import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { TEST_REDIS_URL, uniquePrefix } from '../support/gateway';
import { eventually } from '../support/eventually';

const root = path.join(__dirname, '..', '..');
const tsc = require.resolve('typescript/bin/tsc');

/** The runtime stage's COPY lines, as [from, to]: what the image holds besides node_modules. */
function runtimeCopies(): Array<{ from: string; to: string; stage: string | null }> {
  const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
  const runtime = dockerfile.slice(dockerfile.search(/^FROM .* AS runtime$/m));
  return [...runtime.matchAll(/^COPY\s+(--from=(\S+)\s+)?(.+)$/gm)].flatMap((m) => {
    const parts = m[3]!.trim().split(/\s+/);
    const to = parts.pop()!;
    return parts.map((from) => ({ from, to: to.endsWith('/') ? path.join(to, path.basename(from)) : to, stage: m[2] ?? null }));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

interface Run {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function npmStart(cwd: string, env: Record<string, string>): Run {
  // Own process group, so the test can stop npm and the node it started together.
  const child = spawn('npm', ['start'], { cwd, env: { PATH: process.env.PATH!, HOME: os.tmpdir(), ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

/** The command lines of the processes in `group` (npm, its shell, the node it started), from /proc. */
function commandLines(group: number): string[][] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .flatMap((pid) => {
      try {
        // Field 5 of stat is the process group; the name in field 2 may hold spaces, so count after its ')'.
        const pgrp = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[2]);
        return pgrp === group ? [readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean)] : [];
      } catch {
        return []; // gone since the listing
      }
    });
}

/** Whether `url` answers 200 within `ms`, giving up as soon as `until` settles (the process exited). */
async function answers(url: string, until: Promise<unknown>, ms: number): Promise<boolean> {
  let over = false;
  void until.then(() => (over = true));
  // A refused connection (not listening yet) throws, and eventually tries again.
  const outcome = await eventually(async () => (over ? 'exited' : (await fetch(url)).status === 200 && 'up'), ms).catch(() => 'timed out');
  return outcome === 'up';
}

describe('npm start in the layouts it must work in', () => {
  let dir: string;
  let built: string;

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'pmg-start-'));
    built = path.join(dir, 'built');
    // The build stage's output, compiled from the sources as the Dockerfile's `npm run build` does.
    const compiled = spawn(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', path.join(built, 'dist')], { cwd: root, stdio: 'inherit' });
    return new Promise<void>((resolve, reject) => compiled.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`tsc exited ${code}`)))));
  }, 120_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('starts from the files the Dockerfile copies (no sources, no compiler): /healthz answers', async () => {
    const image = path.join(dir, 'image');
    mkdirSync(image);
    for (const { from, to, stage } of runtimeCopies()) cpSync(stage ? path.join(built, path.basename(from)) : path.join(root, from), path.join(image, to), { recursive: true });
    // npm ci --omit=dev in the image; the shared node_modules holds those packages (and more, unused without sources).
    symlinkSync(path.join(root, 'node_modules'), path.join(image, 'node_modules'));
    const prefix = uniquePrefix('prodstart');
    const port = await freePort();
    const run = npmStart(image, {
      NODE_ENV: 'production',
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: prefix,
      PORT: String(port),
      HASH_KEY: 'a'.repeat(64),
      DATA_KEY: Buffer.alloc(32, 9).toString('base64'),
      PRIMERO_URL: 'http://127.0.0.1:9',
      PRIMERO_USER: 'sms_gateway',
      PRIMERO_PASSWORD: 'secret-password',
      PRIMERO_POLL_INTERVAL_SECONDS: '0',
      LOG_LEVEL: 'warn',
    });
    try {
      expect({ healthy: await answers(`http://127.0.0.1:${port}/healthz`, run.exited, 20_000), output: run.output() }).toMatchObject({ healthy: true });
      // The heap limits the image's ENTRYPOINT gives node, so npm start holds the memory the image does.
      const entrypoint = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(readFileSync(path.join(root, 'Dockerfile'), 'utf8'))![1]!) as string[];
      const gateway = commandLines(run.child.pid!).find((args) => args.includes('dist/src/main.js'));
      expect(gateway).toEqual([expect.stringMatching(/node$/), ...entrypoint.slice(1), 'all']);
    } finally {
      process.kill(-run.child.pid!, 'SIGTERM');
      await run.exited;
      const redis = new Redis(TEST_REDIS_URL);
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length) await redis.del(...keys);
      await redis.quit();
    }
    expect(run.output()).not.toMatch(/MODULE_NOT_FOUND|Cannot find module/);
  }, 40_000);

  /** A checkout after `npm ci --omit=dev`: the sources, the production packages, no compiler. */
  function checkoutWithoutCompiler(name: string): string {
    const checkout = path.join(dir, name);
    mkdirSync(checkout);
    for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json']) cpSync(path.join(root, f), path.join(checkout, f));
    for (const d of ['src', 'workers', 'scripts', 'flows', 'public']) cpSync(path.join(root, d), path.join(checkout, d), { recursive: true });
    mkdirSync(path.join(checkout, 'node_modules'));
    return checkout;
  }

  it('without dist/ and without the compiler, says to run npm ci then npm run build, and exits non-zero', async () => {
    const run = npmStart(checkoutWithoutCompiler('no-dist'), {});
    expect(await run.exited).not.toBe(0);
    expect(run.output()).toContain('run `npm ci` then `npm run build`');
    expect(run.output()).not.toMatch(/tsc: not found|MODULE_NOT_FOUND|at .*\.mjs:\d+/);
  }, 20_000);

  it('counts a newer package-lock.json or tsconfig as stale dist/', async () => {
    for (const changed of ['package-lock.json', 'tsconfig.build.json']) {
      const checkout = checkoutWithoutCompiler(`stale-${changed}`);
      cpSync(path.join(built, 'dist'), path.join(checkout, 'dist'), { recursive: true });
      const past = new Date(Date.now() - 3600_000);
      const touchAll = (p: string) => utimesSync(p, past, past);
      for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json']) touchAll(path.join(checkout, f));
      execFileSync('find', ['src', 'workers', '-type', 'f', '-exec', 'touch', '-d', past.toISOString(), '{}', '+'], { cwd: checkout });
      writeFileSync(path.join(checkout, changed), readFileSync(path.join(checkout, changed)));
      const run = npmStart(checkout, {});
      expect({ changed, code: await run.exited }).toEqual({ changed, code: 1 });
      expect(run.output()).toContain('run `npm ci` then `npm run build`');
    }
  }, 30_000);
});
