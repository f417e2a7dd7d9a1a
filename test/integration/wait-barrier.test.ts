import { Redis } from 'ioredis';
import { PrivateRedis } from '../../demo/sandbox/redis-server';
import { eventually } from '../support/eventually';
import { WaitBarrier } from '../../src/queues/wait-barrier';

/** The barrier that shares one WAIT among the acceptances ready at the same time, against a real replica. */
describe('WaitBarrier', () => {
  let primary: PrivateRedis;
  let replica: PrivateRedis;
  let node: Redis;
  let replicaClient: Redis;

  beforeAll(async () => {
    primary = await PrivateRedis.start();
    replica = await PrivateRedis.start(['--appendonly', 'no', '--enable-debug-command', 'yes', '--replicaof', '127.0.0.1', String(primary.port)]);
    node = new Redis(primary.url);
    replicaClient = new Redis(replica.url);
    await eventually(async () => (await node.info('replication')).includes('state=online'), 10000, 'the replica online');
  });

  afterAll(async () => {
    await replicaClient.quit();
    node.disconnect();
    await replica.destroy();
    await primary.destroy();
  });

  it('a WAIT cut short by its own late request does not refuse the next one, nor mark the replica missing', async () => {
    const barrier = new WaitBarrier(node, 'wait-barrier-test:marker', 1, 1000);
    // The replica acknowledges 300 ms late (busy, not gone): a request with 20 ms left gets 0.
    const busy = replicaClient.call('DEBUG', 'SLEEP', '0.3');
    await new Promise((r) => setTimeout(r, 20));
    const late = barrier.acknowledged(Date.now() + 20);
    const onTime = barrier.acknowledged(Date.now() + 1500);
    expect(await late).toBe(0);
    expect(await onTime).toBe(1);
    await busy;
    expect(await barrier.online()).toBe(1);
  });

  it('fails those waiting when a WAIT never answers, and does not hold the next WAIT behind it', async () => {
    // A frozen primary answers nothing, like a half-open connection after a host crash.
    const frozen = await PrivateRedis.start();
    const silent = new Redis(frozen.url);
    await silent.ping();
    const pid = Number(/process_id:(\d+)/.exec(await silent.info('server'))?.[1]);
    const barrier = new WaitBarrier(silent, 'wait-barrier-test:marker', 1, 100);
    process.kill(pid, 'SIGSTOP');
    const never = new Promise((r) => setTimeout(() => r('still pending'), 8000).unref());
    try {
      const first = barrier.acknowledged(Date.now() + 5000).catch((e: Error) => e.message);
      const next = barrier.acknowledged(Date.now() + 5000).catch((e: Error) => e.message);
      expect(await Promise.race([first, never])).toContain('not confirmed');
      expect(await Promise.race([next, never])).toContain('not confirmed');
    } finally {
      process.kill(pid, 'SIGCONT');
      silent.disconnect();
      await frozen.destroy();
    }
  });
});
