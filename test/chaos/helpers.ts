import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { createServer } from 'node:net';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { eventually } from '../support/eventually';

export const ROOT = path.join(__dirname, '..', '..');
export const TOKEN = 'chaos-token-0123456789';

/** The settings every chaos scenario shares: its own Redis, a Primero (stand-in) URL, no poller. */
export function chaosEnv(redisUrl: string, primeroUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    // The public development hash key is refused outside development and test (src/config.ts keyProblems).
    NODE_ENV: 'test',
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: 'chaos',
    PRIMERO_URL: primeroUrl,
    PRIMERO_USER: 'u',
    PRIMERO_PASSWORD: 'p',
    RAPIDPRO_WEBHOOK_TOKEN: TOKEN,
    PRIMERO_POLL_INTERVAL_SECONDS: '0',
    ...extra,
  };
}

export const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });

export interface GatewayProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
  kill(signal: NodeJS.Signals): Promise<void>;
}

/** The gateway as its own process (src/main.ts api|worker|all), so a test can SIGKILL it. */
export function spawnGateway(mode: 'api' | 'worker' | 'all', env: Record<string, string>): GatewayProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', mode], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return {
    child,
    output: () => out,
    exited,
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

export function referralBody(): string {
  return JSON.stringify({
    contact: { uuid: randomUUID(), urn: 'tel:+250788000123' },
    flow: { uuid: '649754a7-5692-4b14-a1a9-e4c5fe4d18b4' },
    run: { uuid: randomUUID() },
    results: { concern: { value: 'chaos message', category: 'All Responses' } },
  });
}

export interface Answer {
  status: number | null;
  reference: string | null;
  at: number;
}

/** Posts one referral; a connection that dies gives `status: null`. */
export function postReferral(port: number, agent: http.Agent): Promise<Answer> {
  return new Promise((resolve) => {
    const body = referralBody();
    const req = http.request(
      { host: '127.0.0.1', port, path: '/webhooks/rapidpro/referral', method: 'POST', agent, headers: { Authorization: `Token ${TOKEN}`, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => {
          let reference: string | null = null;
          try {
            reference = (JSON.parse(text) as { reference?: string }).reference ?? null;
          } catch {
            reference = null;
          }
          resolve({ status: res.statusCode ?? null, reference, at: Date.now() });
        });
        res.on('error', () => resolve({ status: null, reference: null, at: Date.now() }));
      },
    );
    req.on('error', () => resolve({ status: null, reference: null, at: Date.now() }));
    req.end(body);
  });
}

/** `total` referrals over `concurrency` connections; `onAnswer` may stop the burst early by returning false. */
export async function burst(port: number, total: number, concurrency: number, onAnswer?: (a: Answer, done: number) => void): Promise<Answer[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const answers: Answer[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        next++;
        const a = await postReferral(port, agent);
        answers.push(a);
        onAnswer?.(a, answers.length);
      }
    }),
  );
  agent.destroy();
  return answers;
}

/**
 * The suites' one polling loop, with the chaos scenarios' own rule: only a truthy value is the answer, and a check
 * that throws fails the wait at once (a broken probe is a failure here, not a state to wait out).
 */
export function until<T>(check: () => T | undefined | null | false | Promise<T | undefined | null | false>, ms: number, what: string): Promise<T> {
  return eventually(check, ms, what, { strict: true, intervalMs: 50 });
}
