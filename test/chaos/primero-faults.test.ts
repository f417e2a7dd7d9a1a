import { Queue } from 'bullmq';
import { PrimeroStandIn } from '../../bench/primero-standin';
import { PrivateRedis } from '../../demo/sandbox/redis-server';
import { chaosEnv, burst, freePort, spawnGateway, until } from './helpers';

describe('Primero failing 30% of calls (500s and timeouts) during a burst', () => {
  it('every message ends as exactly one case, none as a dead letter', async () => {
    const redis = await PrivateRedis.start();
    const primero = new PrimeroStandIn();
    // 15% answer 500; 15% hang past the client timeout, after storing the case (the retry meets 409).
    primero.faults = { errorRate: 0.15, hangRate: 0.15, hangMs: 700 };
    const port = await freePort();
    const gateway = spawnGateway(
      'all',
      chaosEnv(redis.url, `http://127.0.0.1:${await primero.start()}`, {
        PORT: String(port),
        PRIMERO_TIMEOUT_MS: '300',
        RETRY_BASE_MS: '50',
        RETRY_MAX_MS: '500',
        INTAKE_CONCURRENCY: '32',
        PRIMERO_RATE_PER_SECOND: '1000',
      }),
    );
    const queue = new Queue('intake', { connection: { url: redis.url }, prefix: 'chaos' });
    try {
      await until(() => gateway.output().includes('API listening'), 20000, 'the gateway');
      const answers = await burst(port, 300, 16);
      expect(answers.every((a) => a.status === 202)).toBe(true);
      const references = answers.map((a) => a.reference!);
      await until(async () => (await queue.getJobCounts('completed')).completed === 300, 90000, 'all 300 jobs to complete');
      const perReference = primero.casesPerReference();
      expect(references.filter((r) => perReference.get(r) !== 1)).toEqual([]);
      expect(primero.created.size).toBe(300);
      expect(await queue.getFailedCount()).toBe(0);
      expect(primero.calls).toBeGreaterThan(300); // the faults really happened: more calls than one create per case
    } finally {
      await queue.close();
      await gateway.kill('SIGTERM');
      await primero.stop();
      await redis.destroy();
    }
  });
});
