import { Queue } from 'bullmq';
import type { Cluster } from 'ioredis';
import { PrimeroStandIn } from '../../bench/primero-standin';
import { createRedis, waitForRedis } from '../../src/queues/connection';
import { replicaAcknowledgement } from '../../src/queues/replica-ack';
import { deleteByPrefix, scanKeys } from '../../src/store/keys';
import { untilDrained } from '../support/eventually';
import { burst, chaosEnv, freePort, spawnGateway, until, type GatewayProcess } from './helpers';
import { startCluster, type ClusterSet } from './topologies';

const PREFIX = '{chaos}';

describe('Redis Cluster: three primaries', () => {
  let set: ClusterSet;
  let cluster: Cluster;
  const seeds = () => set.nodes.map((n) => ({ host: '127.0.0.1', port: n.port }));

  beforeAll(async () => {
    set = await startCluster();
    cluster = createRedis({ REDIS_URL: 'redis://127.0.0.1:9', REDIS_CLUSTER_NODES: seeds() }, 'worker') as Cluster;
    await waitForRedis(cluster, 15000);
  });

  afterAll(async () => {
    await cluster?.quit().catch(() => undefined);
    await set?.destroy();
  });

  it('refuses to start with a QUEUE_PREFIX that is not a hash tag, saying so in one line', async () => {
    const api = spawnGateway('api', chaosEnv('redis://127.0.0.1:9', 'http://127.0.0.1:9', { ...set.env, QUEUE_PREFIX: 'chaos', PORT: String(await freePort()) }));
    expect(await api.exited).toBe(1);
    expect(api.output()).toMatch(/^ {2}- QUEUE_PREFIX: must be a hash tag such as \{pmg\} when REDIS_CLUSTER_NODES is set/m);
  });

  it('scans and prefix deletes reach every master, not the one a keyless command lands on', async () => {
    // Keys of a prefix without a hash tag spread over the slots, so over all three masters.
    const keys = Array.from({ length: 60 }, (_, i) => `spread:${i}`);
    await Promise.all(keys.map((k) => cluster.set(k, '1')));
    const perMaster = await Promise.all(cluster.nodes('master').map((n) => n.dbsize()));
    expect(perMaster.filter((n) => n > 0)).toHaveLength(3);
    const seen: string[] = [];
    for await (const batch of scanKeys(cluster, 'spread:*')) seen.push(...batch);
    expect(new Set(seen)).toEqual(new Set(keys));
    await deleteByPrefix(cluster, 'spread');
    expect(await Promise.all(cluster.nodes('master').map((n) => n.dbsize()))).toEqual([0, 0, 0]);
  });

  it('ingests and drains end to end: every acknowledged message is exactly one case, and every gateway key sits in one slot', async () => {
    const primero = new PrimeroStandIn();
    const env = chaosEnv('redis://127.0.0.1:9', `http://127.0.0.1:${await primero.start()}`, { ...set.env, QUEUE_PREFIX: PREFIX, INTAKE_CONCURRENCY: '16', PRIMERO_RATE_PER_SECOND: '1000' });
    const port = await freePort();
    const api: GatewayProcess = spawnGateway('api', { ...env, PORT: String(port) });
    const worker: GatewayProcess = spawnGateway('worker', env);
    const queue = new Queue('intake', { connection: cluster, prefix: PREFIX });
    try {
      await until(() => api.output().includes('API listening'), 30000, 'the API');
      await until(() => worker.output().includes('workers started'), 30000, 'the workers');
      const answers = await burst(port, 300, 16);
      expect(answers.filter((a) => a.status !== 202)).toEqual([]);
      const acknowledged = answers.map((a) => a.reference!);
      await until(() => acknowledged.every((ref) => (primero.casesPerReference().get(ref) ?? 0) >= 1), 60000, 'every acknowledged message to become a case');
      await untilDrained(queue, 30000);
      const perReference = primero.casesPerReference();
      expect(acknowledged.filter((ref) => perReference.get(ref) !== 1)).toEqual([]);

      // Every key on every master, not only the prefix's: a key written outside it (an untagged name) shows here.
      const slots = new Set<number>();
      const outside: string[] = [];
      let seen = 0;
      for await (const batch of scanKeys(cluster, '*')) {
        for (const key of batch) {
          seen++;
          if (!key.startsWith(`${PREFIX}:`)) outside.push(key);
          slots.add((await cluster.cluster('KEYSLOT', key)) as number);
        }
      }
      expect(seen).toBeGreaterThan(acknowledged.length);
      expect(outside).toEqual([]);
      expect([...slots]).toEqual([await cluster.cluster('KEYSLOT', PREFIX)]);
      expect(api.output()).not.toMatch(/CROSSSLOT|MOVED|ASK /);
      expect(worker.output()).not.toMatch(/CROSSSLOT|MOVED|ASK /);
    } finally {
      await queue.close();
      await api.kill('SIGTERM');
      await worker.kill('SIGTERM');
      await primero.stop();
      await deleteByPrefix(cluster, PREFIX);
    }
  });

  it("REDIS_MIN_REPLICAS_ACK asks the master of the prefix's slot (these masters have no replica: 503 before any write)", async () => {
    await expect(replicaAcknowledgement(cluster, PREFIX, 1, 50)!.begin(Date.now() + 1000)).rejects.toThrow('0 of 1 replicas online');
  });
});
