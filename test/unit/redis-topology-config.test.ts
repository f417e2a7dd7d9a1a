import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import { createRedis } from '../../src/queues/connection';

const minimal = { NODE_ENV: 'test', PRIMERO_URL: 'https://primero.example.org/', PRIMERO_USER: 'sms_gateway', PRIMERO_PASSWORD: 'pw' };

function problemsOf(env: Record<string, string>): string[] {
  const result = loadConfig({ ...minimal, ...env });
  return result.ok ? [] : result.problems;
}

describe('the Redis topology settings', () => {
  it('one Redis by default: no sentinels, no cluster, no replica wait', () => {
    const result = loadConfig(minimal);
    expect(result.ok && [result.config.REDIS_SENTINELS, result.config.REDIS_CLUSTER_NODES, result.config.REDIS_MIN_REPLICAS_ACK]).toEqual([[], [], 0]);
  });

  it('reads sentinels and cluster seeds as host:port lists (IPv6 in brackets)', () => {
    const sentinel = loadConfig({ ...minimal, REDIS_SENTINELS: '10.0.0.5:26379, sentinel-b:26380,[::1]:26381', REDIS_SENTINEL_NAME: 'mymaster' });
    expect(sentinel.ok && sentinel.config.REDIS_SENTINELS).toEqual([
      { host: '10.0.0.5', port: 26379 },
      { host: 'sentinel-b', port: 26380 },
      { host: '::1', port: 26381 },
    ]);
    const cluster = loadConfig({ ...minimal, REDIS_CLUSTER_NODES: 'redis-a:7000,redis-b:7001', QUEUE_PREFIX: '{pmg}' });
    expect(cluster.ok && cluster.config.REDIS_CLUSTER_NODES).toEqual([{ host: 'redis-a', port: 7000 }, { host: 'redis-b', port: 7001 }]);
  });

  it('names a malformed entry by its position, never its text', () => {
    const problems = problemsOf({ REDIS_SENTINELS: 'good:26379,secret-host', REDIS_SENTINEL_NAME: 'mymaster', REDIS_CLUSTER_NODES: 'a:99999' });
    expect(problems).toEqual(
      expect.arrayContaining([expect.stringMatching(/^REDIS_SENTINELS: entry 2 is not host:port/), expect.stringMatching(/^REDIS_CLUSTER_NODES: entry 1 is not host:port/)]),
    );
    expect(problems.join('\n')).not.toContain('secret-host');
  });

  it('refuses two topologies at once, and a Sentinel set without its name or a name without sentinels', () => {
    expect(problemsOf({ REDIS_SENTINELS: 's:26379', REDIS_SENTINEL_NAME: 'm', REDIS_CLUSTER_NODES: 'c:7000', QUEUE_PREFIX: '{pmg}' })).toEqual([
      'REDIS_SENTINELS, REDIS_CLUSTER_NODES: set one topology, Sentinel or Cluster, not both',
    ]);
    expect(problemsOf({ REDIS_SENTINELS: 's:26379' })).toEqual([expect.stringMatching(/^REDIS_SENTINEL_NAME: is required when REDIS_SENTINELS is set/)]);
    expect(problemsOf({ REDIS_SENTINEL_NAME: 'mymaster' })).toEqual([expect.stringMatching(/^REDIS_SENTINELS: is required when REDIS_SENTINEL_NAME is set/)]);
  });

  it('a sentinel password without sentinels is refused, and never shown', () => {
    const problems = problemsOf({ REDIS_SENTINEL_PASSWORD: 'sentinel-secret-value' });
    expect(problems).toEqual([expect.stringMatching(/^REDIS_SENTINEL_PASSWORD: only applies with REDIS_SENTINELS/)]);
    expect(problems.join('\n')).not.toContain('sentinel-secret-value');
  });

  it('a cluster needs a hash-tagged QUEUE_PREFIX and database 0', () => {
    expect(problemsOf({ REDIS_CLUSTER_NODES: 'c:7000' })).toEqual([expect.stringMatching(/^QUEUE_PREFIX: must be a hash tag such as \{pmg\} when REDIS_CLUSTER_NODES is set/)]);
    expect(problemsOf({ REDIS_CLUSTER_NODES: 'c:7000', QUEUE_PREFIX: '{}pmg' })).toHaveLength(1);
    expect(problemsOf({ REDIS_CLUSTER_NODES: 'c:7000', QUEUE_PREFIX: 'gw{pmg}' })).toEqual([]);
    expect(problemsOf({ REDIS_CLUSTER_NODES: 'c:7000', QUEUE_PREFIX: '{pmg}', REDIS_URL: 'redis://:pw@ignored:6379/2' })).toEqual([
      'REDIS_URL: a Redis Cluster has only database 0; remove the /<db> from the URL',
    ]);
  });

  it('the replica wait must end inside the enqueue deadline', () => {
    expect(problemsOf({ REDIS_MIN_REPLICAS_ACK: '1', REDIS_REPLICA_ACK_TIMEOUT_MS: '2000' })).toEqual([expect.stringMatching(/^REDIS_REPLICA_ACK_TIMEOUT_MS: must be less than ENQUEUE_TIMEOUT_MS/)]);
    expect(problemsOf({ REDIS_MIN_REPLICAS_ACK: '1' })).toEqual([]);
    expect(problemsOf({ REDIS_MIN_REPLICAS_ACK: '-1' })).toEqual([expect.stringMatching(/^REDIS_MIN_REPLICAS_ACK: /)]);
  });

  it('reads the sentinels\' password from REDIS_SENTINEL_PASSWORD_FILE, and refuses it beside REDIS_SENTINEL_PASSWORD', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pmg-sentinel-secret-'));
    try {
      const file = path.join(dir, 'sentinel_password');
      writeFileSync(file, 's3ntinel-secret\n');
      const sentinel = { REDIS_SENTINELS: 's:26379', REDIS_SENTINEL_NAME: 'm', REDIS_SENTINEL_PASSWORD_FILE: file };
      const result = loadConfig({ ...minimal, ...sentinel });
      expect(result.ok && result.config.REDIS_SENTINEL_PASSWORD).toBe('s3ntinel-secret');
      const both = problemsOf({ ...sentinel, REDIS_SENTINEL_PASSWORD: 'other' });
      expect(both).toEqual(['REDIS_SENTINEL_PASSWORD_FILE: set it or REDIS_SENTINEL_PASSWORD, not both']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rediss:// with Sentinel speaks TLS to the sentinels too, not only to the primary', () => {
    const redis = createRedis({ REDIS_URL: 'rediss://127.0.0.1:9', REDIS_SENTINELS: [{ host: '127.0.0.1', port: 9 }], REDIS_SENTINEL_NAME: 'm' }, 'producer');
    expect(redis.options).toMatchObject({ enableTLSForSentinelMode: true, sentinelTLS: {} });
    redis.disconnect();
  });
});
