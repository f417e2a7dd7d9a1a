/** The gateway's and the bench helpers' processes: started, waited for, memory sampled, stopped. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { ROOT } from './settings';

export const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });

export interface Proc {
  child: ChildProcess;
  /** The kernel's peak resident memory of the process (VmHWM, MiB): no peak between two samples is missed. */
  maxRssMb: number;
  stop(): Promise<void>;
}

/** VmHWM of `pid` in MiB, or null once the process is gone. */
function peakResidentMb(pid: number | undefined): number | null {
  try {
    return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  } catch {
    return null;
  }
}

const answers = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

/**
 * Starts the built gateway (node dist/…, as production runs it) or a bench helper, waits until it listens on
 * `port` (or simply starts, for a worker), and reads its peak resident memory from /proc.
 */
export async function startProcess(args: string[], env: Record<string, string>, port: number | null): Promise<Proc> {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  const keep = (d: Buffer) => {
    tail = (tail + d.toString()).slice(-4000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const proc: Proc = {
    child,
    maxRssMb: 0,
    async stop() {
      clearInterval(sampler);
      sample();
      if (child.exitCode !== null) return;
      await new Promise((r) => {
        child.once('exit', r);
        child.kill('SIGTERM');
      });
    },
  };
  // The last reading before it exits is the one that counts; the interval keeps it if the process dies on its own.
  const sample = () => (proc.maxRssMb = Math.max(proc.maxRssMb, peakResidentMb(child.pid) ?? 0));
  const sampler = setInterval(sample, 500);
  const deadline = Date.now() + 30_000;
  while (port !== null && !(await answers(port))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${args.join(' ')} did not start: ${tail}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return proc;
}

