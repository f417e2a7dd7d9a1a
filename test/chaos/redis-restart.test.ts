import { Queue } from 'bullmq';
import { PrivateRedis } from '../../demo/sandbox/redis-server';
import { chaosEnv, burst, freePort, spawnGateway, until, type Answer } from './helpers';

const AOF = ['--appendonly', 'yes', '--appendfsync', 'everysec'];

async function restartUnderLoad(signal: NodeJS.Signals) {
  const redis = await PrivateRedis.start(AOF);
  const port = await freePort();
  // API only: jobs stay in the queue, so every acknowledged message can be looked up afterwards.
  const api = spawnGateway('api', chaosEnv(redis.url, 'http://127.0.0.1:9', { PORT: String(port), ENQUEUE_TIMEOUT_MS: '500' }));
  const queue = new Queue('intake', { connection: { url: redis.url, maxRetriesPerRequest: null }, prefix: 'chaos' });
  queue.on('error', () => undefined);
  try {
    await until(() => api.output().includes('API listening'), 20000, 'the API');
    let killedAt = 0;
    let restarting: Promise<void> | null = null;
    const answers: Answer[] = await burst(port, 3000, 32, (_a, done) => {
      if (done === 1000 && !restarting) {
        killedAt = Date.now();
        restarting = (async () => {
          await redis.stop(signal);
          await redis.boot();
        })();
      }
    });
    await restarting;
    const acknowledged = answers.filter((a) => a.status !== null && a.status >= 200 && a.status < 300);
    // The outage was seen: answered 503, or (requests whose commands were in flight are resent by ioredis on
    // reconnect, and a late answer is recognised by the acceptance ledger) held until Redis was back.
    const times = answers.map((a) => a.at).sort((x, y) => x - y);
    const pause = Math.max(...times.slice(1).map((t, i) => t - times[i]!));
    expect(answers.filter((a) => a.status === 503).length > 0 || pause >= 100).toBe(true);
    expect(answers.filter((a) => a.status !== null && a.status >= 500 && a.status !== 503)).toEqual([]);
    const lost: Answer[] = [];
    for (const a of acknowledged) if (!(await queue.getJob(`m-${a.reference}`))) lost.push(a);
    const window = lost.length ? Math.max(...lost.map((a) => killedAt - a.at)) : 0;
    return { acknowledged: acknowledged.length, lost: lost.length, windowMs: window, acknowledgedAfter: acknowledged.filter((a) => a.at > killedAt).length };
  } finally {
    await queue.close();
    await api.kill('SIGTERM');
    await redis.destroy();
  }
}

describe('Redis restarted under load (AOF, appendfsync everysec)', () => {
  it('a clean restart loses no acknowledged message, and the gateway accepts again without a restart of its own', async () => {
    const r = await restartUnderLoad('SIGTERM');
    console.log(`clean restart: ${r.acknowledged} acknowledged, ${r.lost} lost, ${r.acknowledgedAfter} acknowledged after the restart`);
    expect(r.lost).toBe(0);
    expect(r.acknowledgedAfter).toBeGreaterThan(0);
  });

  it('a crash (SIGKILL) loses at most what was acknowledged in the last fsync second', async () => {
    const r = await restartUnderLoad('SIGKILL');
    console.log(`crash: ${r.acknowledged} acknowledged, ${r.lost} lost, loss window ${r.windowMs} ms before the kill`);
    expect(r.windowMs).toBeLessThanOrEqual(2000);
    expect(r.acknowledgedAfter).toBeGreaterThan(0);
  });
});
