import http from 'node:http';
import { Queue } from 'bullmq';
import { PrimeroStandIn } from '../../bench/primero-standin';
import { createRedis, type RedisConnection } from '../../src/queues/connection';
import { untilDrained } from '../support/eventually';
import { burst, chaosEnv, freePort, postReferral, spawnGateway, until, type Answer, type GatewayProcess } from './helpers';
import { ask, startSentinelSet, type SentinelSet } from './topologies';

const is2xx = (a: Answer) => a.status !== null && a.status >= 200 && a.status < 300;

describe('Redis Sentinel: the primary SIGKILLed under load', () => {
  let set: SentinelSet;
  let primero: PrimeroStandIn;
  let api: GatewayProcess | null = null;
  let worker: GatewayProcess | null = null;
  let connection: RedisConnection | null = null;
  let queue: Queue | null = null;

  afterAll(async () => {
    await queue?.close();
    await connection?.quit().catch(() => undefined);
    await api?.kill('SIGTERM');
    await worker?.kill('SIGTERM');
    await primero?.stop();
    await set?.destroy();
  });

  it('the replica is promoted, the gateway follows it, and every acknowledged message ends as exactly one case', async () => {
    set = await startSentinelSet();
    primero = new PrimeroStandIn();
    // REDIS_URL's host is not used with Sentinel: a dead address proves the sentinels are asked.
    const env = chaosEnv('redis://127.0.0.1:9', `http://127.0.0.1:${await primero.start()}`, {
      ...set.env,
      // Asynchronous replication loses what the replica has not yet received; with WAIT 1 a 2xx means the replica has it.
      REDIS_MIN_REPLICAS_ACK: '1',
      REDIS_REPLICA_ACK_TIMEOUT_MS: '300',
      ENQUEUE_TIMEOUT_MS: '1000',
      INTAKE_CONCURRENCY: '16',
      PRIMERO_RATE_PER_SECOND: '1000',
      JOB_LOCK_MS: '5000',
    });
    const port = await freePort();
    api = spawnGateway('api', { ...env, PORT: String(port) });
    worker = spawnGateway('worker', env);
    await until(() => api!.output().includes('API listening'), 30000, 'the API');
    await until(() => worker!.output().includes('workers started'), 30000, 'the workers');

    let killed: Promise<void> | null = null;
    const answers = await burst(port, 1500, 16, (_a, done) => {
      if (done === 300 && !killed) {
        killed = (async () => {
          await set.primary.kill('SIGKILL');
          await until(async () => (await set.primaryPort()) === set.replica.port, 20000, 'the sentinels to promote the replica');
          // The old primary comes back as a replica of the new one, so WAIT 1 can be met again.
          await set.primary.boot(['--replicaof', '127.0.0.1', String(set.replica.port)]);
        })();
      }
    });
    await killed;
    const acknowledged = answers.filter(is2xx).map((a) => a.reference!);
    console.log(`sentinel failover: ${acknowledged.length} acknowledged, ${answers.filter((a) => a.status === 503).length} answered 503 during the burst`);
    // The kill landed mid-burst: most of the first 300 were acknowledged, then the failover was answered 503.
    expect(acknowledged.length).toBeGreaterThanOrEqual(250);
    expect(answers.some((a) => a.status === 503)).toBe(true);
    expect(answers.filter((a) => a.status !== null && a.status >= 500 && a.status !== 503)).toEqual([]);

    // More messages once the new primary has its replica: the gateway followed the failover without a restart.
    await until(async () => (await ask(set.replica.port, 'INFO replication')).includes('state=online'), 20000, 'the old primary to follow the new one');
    const agent = new http.Agent({ keepAlive: false });
    const later: Answer[] = [];
    await until(async () => is2xx(later[later.push(await postReferral(port, agent)) - 1]!), 20000, 'a 2xx through the promoted primary');
    agent.destroy();
    later.push(...(await burst(port, 100, 8)));
    expect(later.filter(is2xx).length).toBeGreaterThan(50);
    acknowledged.push(...later.filter(is2xx).map((a) => a.reference!));

    connection = createRedis({ REDIS_URL: 'redis://127.0.0.1:9', REDIS_SENTINELS: set.sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })), REDIS_SENTINEL_NAME: set.name }, 'worker');
    queue = new Queue('intake', { connection, prefix: env.QUEUE_PREFIX });
    await until(() => acknowledged.every((ref) => (primero.casesPerReference().get(ref) ?? 0) >= 1), 90000, 'every acknowledged message to become a case');
    await untilDrained(queue, 30000);
    const perReference = primero.casesPerReference();
    expect(acknowledged.filter((ref) => perReference.get(ref) !== 1)).toEqual([]);
    expect(new Set(acknowledged).size).toBe(acknowledged.length);
  });
});
