import http from 'node:http';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { PrivateRedis } from '../../../demo/sandbox/redis-server';
import { purgeExpired } from '../../../src/queues/retention';
import { chaosEnv, freePort, ROOT, spawnGateway, TOKEN, until, type GatewayProcess } from '../helpers';
import { FakePrimero } from './fake-primero';

export const ADMIN = 'model-check-admin-token';
export const ENQUEUE_TIMEOUT_MS = 300;
const JOB_LOCK_MS = 1500;
const WINDOW_HOURS = 72;

export interface Delivery {
  status: number | null;
  reference: string | null;
  duplicate: boolean | null;
  simulated: boolean | null;
  at: number;
}

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined } as never;

/** The shipped mappings, with the referral flow referring (consent given) so double referrals can be seen. */
function mappingDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'model-check-flows-'));
  for (const f of readdirSync(path.join(ROOT, 'flows'))) writeFileSync(path.join(dir, f), readFileSync(path.join(ROOT, 'flows', f)));
  const referral = JSON.parse(readFileSync(path.join(dir, 'referral.mapping.json'), 'utf8')) as Record<string, unknown>;
  referral.referral = { transitioned_to: 'cp_manager', notes: 'Referred by the messaging gateway' };
  writeFileSync(path.join(dir, 'referral.mapping.json'), JSON.stringify(referral));
  return dir;
}

/**
 * One private Redis (AOF, fsync always: a Redis crash loses nothing acknowledged, so any loss is ours),
 * the fake Primero, and the gateway as two processes (API, worker). Processes survive across schedules
 * unless a schedule kills them.
 */
export class World {
  readonly primero = new FakePrimero();
  redis!: PrivateRedis;
  api!: GatewayProcess;
  worker!: GatewayProcess;
  port = 0;
  queue!: Queue;
  client!: Redis;
  private env!: Record<string, string>;
  private flows = '';
  private agent = new http.Agent({ keepAlive: false });

  async start(): Promise<void> {
    this.redis = await PrivateRedis.start(['--appendonly', 'yes', '--appendfsync', 'always']);
    this.flows = mappingDir();
    this.port = await freePort();
    this.env = chaosEnv(this.redis.url, `http://127.0.0.1:${await this.primero.start()}`, {
      PORT: String(this.port),
      QUEUE_PREFIX: 'model',
      ADMIN_TOKEN: ADMIN,
      MAPPING_DIR: this.flows,
      ENQUEUE_TIMEOUT_MS: String(ENQUEUE_TIMEOUT_MS),
      PRIMERO_TIMEOUT_MS: '500',
      RETRY_BASE_MS: '50',
      // About 5 s of attempts: longer than a killed worker's job takes to come back (two lock periods),
      // as production's 30 attempts are, so a merge does not give up on a report that is on its way.
      RETRY_MAX_MS: '800',
      INTAKE_ATTEMPTS: '9',
      INTAKE_CONCURRENCY: '8',
      JOB_LOCK_MS: String(JOB_LOCK_MS),
      AUTH_FAILURE_PAUSE_MS: '300',
      SHUTDOWN_DEADLINE_MS: '1000',
      PRIMERO_RATE_PER_SECOND: '1000',
      IDEMPOTENCY_WINDOW_HOURS: String(WINDOW_HOURS),
      SENDER_RATE_LIMIT: '100000',
      LOG_LEVEL: 'info',
    });
    this.queue = new Queue('intake', { connection: { url: this.redis.url, maxRetriesPerRequest: null }, prefix: 'model' });
    this.queue.on('error', () => undefined);
    this.client = new Redis(this.redis.url, { maxRetriesPerRequest: null });
    this.client.on('error', () => undefined);
    await Promise.all([this.startApi(), this.startWorker()]);
  }

  async startApi(): Promise<void> {
    this.api = spawnGateway('api', this.env);
    await until(() => this.api.output().includes('API listening'), 30000, 'the API');
  }

  async startWorker(): Promise<void> {
    const worker = spawnGateway('worker', this.env);
    this.worker = worker;
    await until(() => worker.output().includes('workers started'), 30000, 'the worker');
  }

  async killApi(): Promise<void> {
    await this.api.kill('SIGKILL');
    await this.startApi();
  }

  async killWorker(): Promise<void> {
    await this.worker.kill('SIGKILL');
    await this.startWorker();
  }

  /** Redis answers nothing for longer than the enqueue deadline while `during` runs, then carries on. */
  async stallRedis<T>(during: () => Promise<T>): Promise<T> {
    const pid = (this.redis as unknown as { proc: { pid: number } }).proc.pid;
    process.kill(pid, 'SIGSTOP');
    try {
      return await during();
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  }

  async restartRedis(): Promise<void> {
    await this.redis.stop('SIGKILL');
    await this.redis.boot();
  }

  /** The API answers ready (its Redis connection is back). */
  async ready(): Promise<void> {
    await until(async () => (await fetch(`http://127.0.0.1:${this.port}/readyz`).catch(() => null))?.status === 200, 20000, 'the API to be ready');
  }

  /** Redis refuses every script (queue.add is one) while `during` runs; plain commands still work. */
  async refuseScripts<T>(during: () => Promise<T>): Promise<T> {
    await this.client.call('ACL', 'SETUSER', 'default', '-eval', '-evalsha', '-fcall');
    try {
      return await during();
    } finally {
      await this.client.call('ACL', 'SETUSER', 'default', '+@all');
    }
  }

  /** The hourly retention job, run now, as if every retention period had passed. */
  async purge(): Promise<void> {
    await purgeExpired([this.queue], { completedMs: 0, deadLetterMs: 0 }, silent);
  }

  /**
   * The idempotency window passes: completed jobs are long purged and every key that lives no longer
   * than the window has expired. Only run quiesced (no job locks are held).
   */
  async windowPasses(): Promise<void> {
    await this.purge();
    let cursor = '0';
    do {
      const [next, keys] = await this.client.scan(cursor, 'COUNT', 500);
      cursor = next;
      for (const key of keys) {
        const ttl = await this.client.pttl(key);
        if (ttl > 0 && ttl <= WINDOW_HOURS * 3_600_000) await this.client.del(key);
      }
    } while (cursor !== '0');
  }

  post(intent: 'referral' | 'feedback', body: string, simulation = false): Promise<Delivery> {
    return new Promise((resolve) => {
      const headers: Record<string, string | number> = { Authorization: `Token ${TOKEN}`, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) };
      if (simulation) headers['X-Mailroom-Mode'] = 'simulation';
      const fail = () => resolve({ status: null, reference: null, duplicate: null, simulated: null, at: Date.now() });
      const req = http.request({ host: '127.0.0.1', port: this.port, path: `/webhooks/rapidpro/${intent}`, method: 'POST', agent: this.agent, headers, timeout: 15000 }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('error', fail);
        res.on('end', () => {
          let json: { reference?: string; duplicate?: boolean; simulated?: boolean } = {};
          try {
            json = JSON.parse(text) as typeof json;
          } catch {
            json = {};
          }
          resolve({ status: res.statusCode ?? null, reference: json.reference ?? null, duplicate: json.duplicate ?? null, simulated: json.simulated ?? null, at: Date.now() });
        });
      });
      req.on('timeout', () => req.destroy());
      req.on('error', fail);
      req.end(body);
    });
  }

  private async admin<T>(method: string, url: string): Promise<T> {
    const res = await fetch(`http://127.0.0.1:${this.port}${url}`, { method, headers: { Authorization: `Bearer ${ADMIN}` } });
    return (await res.json()) as T;
  }

  deadLetters(): Promise<Array<{ id: string; reference: string | null; error: string }>> {
    return this.admin<{ dead_letters: Array<{ id: string; reference: string | null; error: string }> }>('GET', '/admin/dead-letters?queue=intake').then((r) => r.dead_letters ?? []);
  }

  /** A dead letter's payload as stored, personal fields revealed (the model check matches it to a message by its words). */
  async deadLetterPayload(id: string): Promise<string> {
    const shown = await this.admin<{ data?: unknown }>('GET', `/admin/dead-letters/${encodeURIComponent(id)}?reveal=true&reason=model-check`);
    return JSON.stringify(shown.data ?? null);
  }

  async replay(id: string): Promise<void> {
    await this.admin('POST', `/admin/dead-letters/${encodeURIComponent(id)}/replay`);
  }

  /** Nothing waiting, delayed or running, twice in a row: every acknowledged message has had its outcome. */
  async quiesce(ms = 45000): Promise<void> {
    let calm = 0;
    await until(
      async () => {
        const c = await this.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children');
        calm = Object.values(c).every((n) => n === 0) ? calm + 1 : 0;
        return calm >= 3;
      },
      ms,
      'the intake queue to drain',
    );
  }

  async stop(): Promise<void> {
    this.agent.destroy();
    await this.queue?.close();
    this.client?.disconnect();
    await this.api?.kill('SIGTERM');
    await this.worker?.kill('SIGTERM');
    await this.primero.stop();
    await this.redis?.destroy();
    rmSync(this.flows, { recursive: true, force: true });
  }
}
