import { Queue } from 'bullmq';
import { PrimeroStandIn } from '../../bench/primero-standin';
import { PrivateRedis } from '../../demo/sandbox/redis-server';
import { untilDrained } from '../support/eventually';
import { chaosEnv, burst, freePort, spawnGateway, until, type GatewayProcess } from './helpers';

describe('the API process SIGKILLed during a burst', () => {
  it('every request answered 2xx ends as exactly one case', async () => {
    const redis = await PrivateRedis.start();
    const primero = new PrimeroStandIn();
    const env = chaosEnv(redis.url, `http://127.0.0.1:${await primero.start()}`, { INTAKE_CONCURRENCY: '32', PRIMERO_RATE_PER_SECOND: '1000' });
    const port = await freePort();
    const api = spawnGateway('api', { ...env, PORT: String(port) });
    const queue = new Queue('intake', { connection: { url: redis.url }, prefix: env.QUEUE_PREFIX });
    let worker: GatewayProcess | null = null;
    try {
      await until(() => api.output().includes('API listening'), 20000, 'the API');
      let killed = false;
      const answers = await burst(port, 600, 32, (_a, done) => {
        if (done === 200 && !killed) {
          killed = true;
          void api.kill('SIGKILL');
        }
      });
      const acknowledged = answers.filter((a) => a.status !== null && a.status >= 200 && a.status < 300).map((a) => a.reference!);
      const cut = answers.filter((a) => a.status === null).length;
      expect(acknowledged.length).toBeGreaterThanOrEqual(200);
      expect(cut).toBeGreaterThan(0); // the kill really landed mid-burst

      worker = spawnGateway('worker', env);
      await until(() => acknowledged.every((ref) => (primero.casesPerReference().get(ref) ?? 0) >= 1), 60000, 'every acknowledged message to become a case');
      // No duplicate can still be on its way once every intake job has run: the queue drained, not a fixed sleep.
      await untilDrained(queue, 30000);
      const perReference = primero.casesPerReference();
      expect(acknowledged.filter((ref) => perReference.get(ref) !== 1)).toEqual([]);
      expect(new Set(acknowledged).size).toBe(acknowledged.length);
    } finally {
      await queue.close();
      await worker?.kill('SIGTERM');
      await api.kill('SIGKILL');
      await primero.stop();
      await redis.destroy();
    }
  });
});
