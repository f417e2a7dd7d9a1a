import { Queue } from 'bullmq';
import { PrimeroStandIn } from '../../bench/primero-standin';
import { PrivateRedis } from '../../demo/sandbox/redis-server';
import { chaosEnv, freePort, spawnGateway, until, burst } from './helpers';

describe('a worker SIGKILLed mid-job', () => {
  it('the job is recovered after the lock expires and exactly one case exists', async () => {
    const redis = await PrivateRedis.start();
    const primero = new PrimeroStandIn();
    primero.delayMs = 1500;
    const env = chaosEnv(redis.url, `http://127.0.0.1:${await primero.start()}`, { JOB_LOCK_MS: '2000', PRIMERO_TIMEOUT_MS: '5000' });
    const port = await freePort();
    const api = spawnGateway('api', { ...env, PORT: String(port) });
    const queue = new Queue('intake', { connection: { url: redis.url }, prefix: 'chaos' });
    try {
      await until(() => api.output().includes('API listening'), 20000, 'the API');
      const [answer] = await burst(port, 1, 1);
      expect(answer!.status).toBe(202);

      const first = spawnGateway('worker', env);
      await until(() => primero.calls >= 1, 20000, 'the first create to reach Primero');
      await first.kill('SIGKILL');

      const second = spawnGateway('worker', env);
      try {
        await until(async () => (await queue.getJobState(`m-${answer!.reference}`)) === 'completed', 30000, 'the job to complete on the second worker');
      } finally {
        await second.kill('SIGTERM');
      }
      expect([...primero.created.values()]).toEqual([answer!.reference]);
      expect(primero.duplicates).toBe(1); // the retry met 409: counted as done, not a second case
    } finally {
      await queue.close();
      await api.kill('SIGTERM');
      await primero.stop();
      await redis.destroy();
    }
  });
});
