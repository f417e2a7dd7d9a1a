import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { until } from './helpers';

/**
 * Redis Sentinel sets and Redis Clusters of real redis-server processes, on this suite's own ports
 * (7000-7099 for data nodes and cluster buses, 26379-26399 for sentinels), each torn down with its files.
 */

/** One raw command over TCP (no client library, so nothing reconnects after the check); '' when nobody answers. */
export function ask(port: number, command: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let text = '';
    const done = () => {
      socket.destroy();
      resolve(text);
    };
    socket.setTimeout(500, done);
    socket.once('error', done);
    socket.once('connect', () => socket.write(`${command}\r\n`));
    socket.on('data', (d: Buffer) => {
      text += d.toString();
      // A bulk reply ($<len>) is complete once its length is in; a simple one at its first line.
      const bulk = /^\$(\d+)\r\n/.exec(text);
      if (bulk ? text.length >= bulk[0].length + Number(bulk[1]) + 2 : text.endsWith('\r\n')) done();
    });
  });
}

export class RedisNode {
  private proc: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();

  constructor(
    readonly port: number,
    private readonly args: string[],
  ) {}

  async boot(extra: string[] = []): Promise<void> {
    const proc = spawn('redis-server', [...this.args, ...extra], { stdio: 'ignore' });
    this.proc = proc;
    this.exited = new Promise((r) => proc.once('exit', () => r()));
    await until(async () => (await ask(this.port, 'PING')).startsWith('+PONG'), 10000, `redis-server on ${this.port}`);
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
    await this.exited;
    this.proc = null;
  }
}

function dataNode(dir: string, port: number, extra: string[] = []): RedisNode {
  return new RedisNode(port, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extra]);
}

export interface SentinelSet {
  name: string;
  primary: RedisNode;
  replica: RedisNode;
  sentinels: RedisNode[];
  /** The env a gateway process needs to find the primary through the sentinels. */
  env: Record<string, string>;
  /** The port the sentinels name as the primary now. */
  primaryPort(): Promise<number | null>;
  destroy(): Promise<void>;
}

/** One primary, one replica, three sentinels (quorum 2) noticing a dead primary after a second. */
export async function startSentinelSet(base = { data: 7010, sentinel: 26379 }): Promise<SentinelSet> {
  const dir = mkdtempSync(path.join(tmpdir(), 'pmg-sentinel-'));
  const name = 'gwprimary';
  const primary = dataNode(dir, base.data, ['--dbfilename', 'primary.rdb']);
  const replica = dataNode(dir, base.data + 1, ['--dbfilename', 'replica.rdb', '--replicaof', '127.0.0.1', String(base.data)]);
  const sentinels = [0, 1, 2].map((i) => {
    const port = base.sentinel + i;
    const conf = path.join(dir, `sentinel-${port}.conf`);
    writeFileSync(conf, [`port ${port}`, 'bind 127.0.0.1', `dir ${dir}`, `sentinel monitor ${name} 127.0.0.1 ${base.data} 2`, `sentinel down-after-milliseconds ${name} 1000`, `sentinel failover-timeout ${name} 4000`, ''].join('\n'));
    return new RedisNode(port, [conf, '--sentinel']);
  });
  const set: SentinelSet = {
    name,
    primary,
    replica,
    sentinels,
    env: { REDIS_SENTINELS: sentinels.map((s) => `127.0.0.1:${s.port}`).join(','), REDIS_SENTINEL_NAME: name },
    async primaryPort() {
      const answer = await ask(sentinels[0]!.port, `SENTINEL get-master-addr-by-name ${name}`);
      const port = /\r\n(\d+)\r\n$/.exec(answer)?.[1];
      return port ? Number(port) : null;
    },
    async destroy() {
      await Promise.all([...sentinels, replica, primary].map((n) => n.kill()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await primary.boot();
    await replica.boot();
    await until(async () => (await ask(primary.port, 'INFO replication')).includes('state=online'), 10000, 'the replica in sync');
    for (const s of sentinels) await s.boot();
    // Every sentinel knows the replica and the others before anything is killed.
    await until(async () => /num-other-sentinels\r\n\$1\r\n2\r\n/.test(await ask(sentinels[0]!.port, `SENTINEL master ${name}`)) && (await ask(sentinels[0]!.port, `SENTINEL replicas ${name}`)).includes(String(replica.port)), 15000, 'the sentinels to see each other and the replica');
  } catch (err) {
    await set.destroy();
    throw err;
  }
  return set;
}

export interface ClusterSet {
  nodes: RedisNode[];
  env: Record<string, string>;
  destroy(): Promise<void>;
}

/** Three primaries (no replicas) sharing the 16384 slots; cluster buses on data port + 50. */
export async function startCluster(base = 7000): Promise<ClusterSet> {
  const dir = mkdtempSync(path.join(tmpdir(), 'pmg-cluster-'));
  const nodes = [0, 1, 2].map((i) =>
    dataNode(dir, base + i, ['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${base + i}.conf`, '--cluster-port', String(base + 50 + i), '--dbfilename', `dump-${base + i}.rdb`]),
  );
  const set: ClusterSet = {
    nodes,
    env: { REDIS_CLUSTER_NODES: nodes.map((n) => `127.0.0.1:${n.port}`).join(',') },
    async destroy() {
      await Promise.all(nodes.map((n) => n.kill()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    for (const n of nodes) await n.boot();
    const created = spawnSync('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8', timeout: 30000 });
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout.slice(-300)}`);
    for (const n of nodes) await until(async () => (await ask(n.port, 'CLUSTER INFO')).includes('cluster_state:ok'), 15000, `cluster state ok on ${n.port}`);
  } catch (err) {
    await set.destroy();
    throw err;
  }
  return set;
}
