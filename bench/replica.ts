/**
 * A replica redis-server beside the bench's Redis (no persistence, loopback only), for REDIS_MIN_REPLICAS_ACK:
 * started, waited for until both sides say the link is up, stopped. Its configuration goes in on stdin
 * (`redis-server -`), so a password in REDIS_URL never shows in the process list. A replica writes the primary's
 * snapshot to its `dir` on a full sync even with `save ""`, so that is a temporary directory, removed at the stop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { processCpuSeconds } from './cpu';
import { freePort } from './processes';

export interface Replica {
  port: number;
  /** Its CPU seconds so far (it is one of the "others" in the bench's CPU shares). */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

/** A full sync waits repl-diskless-sync-delay (5 s by default) before it starts; a bigger dataset takes longer. */
const ONLINE_WITHIN_MS = 30_000;

function replicaConfig(primaryUrl: string, port: number, dir: string): string | { skip: string } {
  const url = new URL(primaryUrl);
  if (url.protocol !== 'redis:') return { skip: `REDIS_URL is ${url.protocol}//, the bench starts a replica only for redis://` };
  const lines = ['bind 127.0.0.1', `port ${port}`, 'save ""', 'appendonly no', `dir ${JSON.stringify(dir)}`, 'repl-diskless-load on-empty-db'];
  lines.push(`replicaof ${url.hostname} ${url.port || '6379'}`);
  // The config file's quoting: a password with a space or a quote stays one argument.
  if (url.password) lines.push(`masterauth ${JSON.stringify(decodeURIComponent(url.password))}`);
  if (url.username && url.username !== 'default') lines.push(`masteruser ${JSON.stringify(decodeURIComponent(url.username))}`);
  return `${lines.join('\n')}\n`;
}

const stopped = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return resolve();
    const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });

/** Online as the gateway sees it (the primary's INFO replication, state=online) and as the replica does (link up). */
async function online(primary: Redis, replica: Redis, port: number): Promise<boolean> {
  const [mine, theirs] = await Promise.all([replica.info('replication'), primary.info('replication')]);
  return /^master_link_status:up/m.test(mine) && new RegExp(`^slave\\d+:.*port=${port},state=online`, 'm').test(theirs);
}

/** The replica, or why there is none (the bench prints it and skips the part). */
export async function startReplica(primaryUrl: string, primary: Redis): Promise<Replica | { skip: string }> {
  const port = Number(process.env.BENCH_REPLICA_PORT ?? (await freePort()));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-replica-'));
  const config = replicaConfig(primaryUrl, port, dir);
  if (typeof config !== 'string') {
    rmSync(dir, { recursive: true, force: true });
    return config;
  }
  const child = spawn(process.env.BENCH_REDIS_SERVER ?? 'redis-server', ['-'], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
  let tail = '';
  let failed: string | null = null;
  const keep = (d: Buffer) => void (tail = (tail + d.toString()).slice(-2000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  child.once('error', (err) => void (failed = err.message));
  child.stdin!.on('error', () => undefined); // the process is gone: its exit says why
  child.stdin!.end(config);
  const replica = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => 200 });
  replica.on('error', () => undefined); // refused until it listens
  const stop = async () => {
    replica.disconnect();
    await stopped(child);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + ONLINE_WITHIN_MS;
    for (;;) {
      if (failed) throw new Error(failed);
      if (child.exitCode !== null) throw new Error(`redis-server exited: ${tail.trim().split('\n').pop() ?? ''}`);
      if (Date.now() > deadline) throw new Error(`not online within ${ONLINE_WITHIN_MS / 1000} s: ${tail.trim().split('\n').pop() ?? ''}`);
      if (await online(primary, replica, port).catch(() => false)) return { port, cpuSeconds: () => processCpuSeconds(String(child.pid)), stop };
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (err) {
    await stop();
    return { skip: `no replica could be started on port ${port} (${(err as Error).message})` };
  }
}
