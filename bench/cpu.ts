/**
 * Who used the CPU while a figure was measured: Redis (INFO cpu), the gateway's processes (every `dist/src/main.js`
 * started from this checkout, from /proc), and the bench itself with its wrk children (the load and the Primero
 * stand-in). A CPU-second per second is one core; the machine has os.cpus().length of them.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import os from 'node:os';
import type { Redis } from 'ioredis';
import { ROOT } from './settings';

const TICK = 100; // USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s on Linux

export interface CpuReading {
  at: number;
  redis: number;
  gateway: number;
  bench: number;
  machine: number;
}

export interface CpuShares {
  /** Cores busy, on average over the window. */
  redis: number;
  gateway: number;
  bench: number;
  /** Every process on the machine, other users' included. */
  machine: number;
  cores: number;
}

export function processCpuSeconds(pid: string): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICK; // utime, stime
}

/** CPU seconds of the live processes matching `wanted`, by pid. */
function scan(wanted: (pid: string, args: string[]) => boolean): Map<string, number> {
  const out = new Map<string, number>();
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (wanted(pid, args)) out.set(pid, processCpuSeconds(pid));
    } catch {
      // gone since the listing, or not ours
    }
  }
  return out;
}

const isGateway = (pid: string, args: string[]) => args.includes('dist/src/main.js') && readlinkSync(`/proc/${pid}/cwd`) === ROOT;
const isOurWrk = (pid: string, args: string[]) => /wrk$/.test(args[0] ?? '') && readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1] === String(process.pid);

/** CPU seconds every core spent busy since boot (/proc/stat: all but idle and iowait). */
function machineCpuSeconds(): number {
  const [user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return (user! + nice! + system! + irq! + softirq! + steal!) / TICK;
}

async function redisCpuSeconds(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const read = (k: string) => Number(new RegExp(`${k}:([\\d.]+)`).exec(info)?.[1] ?? 0);
  return read('used_cpu_sys') + read('used_cpu_user');
}

/**
 * Samples every 250 ms until stopped, summing each process's CPU time as it grows (a process that exits between
 * two samples loses at most the last 250 ms).
 */
export function cpuTimeline(redis: Redis) {
  const readings: CpuReading[] = [];
  const last = new Map<string, number>();
  let gateway = 0;
  let wrk = 0;
  const grow = (now: Map<string, number>, key: string) => {
    let added = 0;
    for (const [pid, s] of now) {
      added += s - (last.get(key + pid) ?? 0);
      last.set(key + pid, s);
    }
    return added;
  };
  const sample = async () => {
    gateway += grow(scan(isGateway), 'g');
    wrk += grow(scan(isOurWrk), 'w');
    const own = process.cpuUsage();
    readings.push({ at: Date.now(), redis: await redisCpuSeconds(redis), gateway, bench: (own.user + own.system) / 1e6 + wrk, machine: machineCpuSeconds() });
  };
  let busy = sample();
  const timer = setInterval(() => (busy = busy.then(sample)), 250);
  return {
    /** Average cores busy between `from` and `to` (ms since the epoch), from the readings either side. */
    shares(from: number, to: number): CpuShares {
      const before = [...readings].reverse().find((r) => r.at <= from) ?? readings[0]!;
      const after = readings.find((r) => r.at >= to) ?? readings[readings.length - 1]!;
      const s = Math.max(0.001, (after.at - before.at) / 1000);
      return { redis: (after.redis - before.redis) / s, gateway: (after.gateway - before.gateway) / s, bench: (after.bench - before.bench) / s, machine: (after.machine - before.machine) / s, cores: os.cpus().length };
    },
    async stop(): Promise<void> {
      clearInterval(timer);
      await busy;
    },
  };
}

export type CpuTimeline = ReturnType<typeof cpuTimeline>;

/** e.g. `Redis 0.62, gateway 1.10, bench+wrk 0.25, others 0.03 of 2 cores`. */
export const describeShares = (c: CpuShares) =>
  `Redis ${c.redis.toFixed(2)}, gateway ${c.gateway.toFixed(2)}, bench+wrk ${c.bench.toFixed(2)}, others ${Math.max(0, c.machine - c.redis - c.gateway - c.bench).toFixed(2)} of ${c.cores} cores`;

/** Which party the figure most likely waited on. */
export function ceiling(c: CpuShares): string {
  if (c.redis >= 0.85) return 'Redis (one core, single-threaded)';
  if (c.machine >= c.cores * 0.9) return `the machine: every core busy (${(c.machine - c.redis - c.gateway - c.bench).toFixed(2)} of them other processes)`;
  if (c.bench >= 0.85) return 'the bench process (load generator / Primero stand-in, one core)';
  return 'neither CPU: waiting (Primero latency, locks or the rate limit)';
}
