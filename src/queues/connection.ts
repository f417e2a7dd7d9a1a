import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisNodeAddress } from '../config-redis';

/** What the gateway's stores, queues and views are given: one Redis (single or Sentinel-managed) or a Redis Cluster. */
export type RedisConnection = Redis | Cluster;

/**
 * Where Redis is: REDIS_URL alone (one server), or Sentinel (REDIS_SENTINELS + REDIS_SENTINEL_NAME), or a cluster
 * (REDIS_CLUSTER_NODES). With Sentinel or Cluster REDIS_URL gives only the credentials, TLS and (Sentinel) the db.
 */
export interface RedisSettings {
  REDIS_URL: string;
  REDIS_SENTINELS?: RedisNodeAddress[];
  REDIS_SENTINEL_NAME?: string | undefined;
  REDIS_SENTINEL_PASSWORD?: string | undefined;
  REDIS_CLUSTER_NODES?: RedisNodeAddress[];
}

export type RedisRole = 'producer' | 'worker';

// Protocol constants, not tunables: they bound how fast a lost Redis is noticed and retried, and an
// operator has no reason to move them (REDIS_URL and the callers' own deadlines are the settings).
/** A producer's connect gives up this soon, so the HTTP path answers 503 instead of hanging. */
const PRODUCER_CONNECT_TIMEOUT_MS = 2000;
/** Reconnect backoff: 200 ms more per try, never more than 2 s apart. */
const RECONNECT_STEP_MS = 200;
const RECONNECT_MAX_MS = 2000;
/** How often `waitForRedis` asks again. */
const WAIT_POLL_MS = 250;

/**
 * Each role's options, for every topology (the one place to change them):
 * - producer: used on the HTTP path. No offline queue, so a command fails at once while Redis is away and
 *   the route answers 503 instead of holding RapidPro's connection open.
 * - worker: blocking commands must wait as long as it takes (BullMQ requires maxRetriesPerRequest null).
 */
const ROLE_OPTIONS: Record<RedisRole, RedisOptions> = {
  producer: { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: PRODUCER_CONNECT_TIMEOUT_MS },
  worker: { maxRetriesPerRequest: null },
};

const reconnectDelay = (times: number) => Math.min(times * RECONNECT_STEP_MS, RECONNECT_MAX_MS);

/**
 * A primary demoted by a failover answers writes with READONLY while the connection still points at it:
 * reconnect (Sentinel then names the new primary). The refused command did not run; ioredis sends it again, which
 * a producer (no offline queue) refuses at once (a 503) and a worker sends on the new connection. Cluster nodes
 * answer MOVED instead, which the Cluster client follows.
 */
const reconnectOnReadOnly = (err: Error): 2 | false => (err.message.startsWith('READONLY') ? 2 : false);

/** REDIS_URL's credentials, TLS and database: what a Sentinel or Cluster connection takes from it. */
function urlParts(url: string, withDb = true): Pick<RedisOptions, 'username' | 'password' | 'tls' | 'db'> {
  const u = new URL(url);
  const db = u.pathname.replace(/^\//, '');
  return {
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    ...(db && withDb ? { db: Number(db) } : {}),
  };
}

function clusterOf(nodes: RedisNodeAddress[], url: string, role: RedisRole, extra: RedisOptions): Cluster {
  const { enableOfflineQueue, lazyConnect, ...perNode } = { ...ROLE_OPTIONS[role], ...extra };
  // A cluster has database 0 only (the start refuses another).
  const credentials = urlParts(url, false);
  const options: ClusterOptions = {
    clusterRetryStrategy: reconnectDelay,
    lazyConnect: lazyConnect ?? true,
    ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
    redisOptions: { ...credentials, ...perNode, reconnectOnError: reconnectOnReadOnly },
  };
  return new Cluster(nodes, options);
}

/** Every connection the gateway opens, whatever the topology; `extra` overrides the role's options. */
export function createRedis(target: string, role: RedisRole, extra?: RedisOptions): Redis;
export function createRedis(target: RedisSettings, role: RedisRole, extra?: RedisOptions): RedisConnection;
export function createRedis(target: string | RedisSettings, role: RedisRole, extra: RedisOptions = {}): RedisConnection {
  const settings: RedisSettings = typeof target === 'string' ? { REDIS_URL: target } : target;
  const common: RedisOptions = { ...ROLE_OPTIONS[role], retryStrategy: reconnectDelay, lazyConnect: true, reconnectOnError: reconnectOnReadOnly };
  if (settings.REDIS_CLUSTER_NODES?.length) return clusterOf(settings.REDIS_CLUSTER_NODES, settings.REDIS_URL, role, extra);
  if (settings.REDIS_SENTINELS?.length && settings.REDIS_SENTINEL_NAME) {
    const parts = urlParts(settings.REDIS_URL);
    return new Redis({
      ...parts,
      sentinels: settings.REDIS_SENTINELS,
      name: settings.REDIS_SENTINEL_NAME,
      role: 'master',
      ...(settings.REDIS_SENTINEL_PASSWORD ? { sentinelPassword: settings.REDIS_SENTINEL_PASSWORD } : {}),
      // rediss://: TLS to the sentinels (sentinelTLS) as well as to the primary they name (enableTLSForSentinelMode).
      ...(parts.tls ? { enableTLSForSentinelMode: true, sentinelTLS: {} } : {}),
      sentinelRetryStrategy: reconnectDelay,
      ...common,
      ...extra,
    });
  }
  return new Redis(settings.REDIS_URL, { ...common, ...extra });
}

/** The masters to visit for a keyspace-wide command (SCAN): each master of a cluster, else the one connection. */
export function mastersOf(redis: RedisConnection): Redis[] {
  return redis instanceof Cluster ? redis.nodes('master') : [redis];
}

/** Resolves once Redis answers; the gateway does not start half-connected. */
export async function waitForRedis(redis: RedisConnection, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  if (redis.status === 'wait') await redis.connect().catch(() => undefined);
  for (;;) {
    try {
      if (redis.status === 'ready' && (await redis.ping()) === 'PONG') return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error('Redis did not answer (REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES)');
    await new Promise((r) => setTimeout(r, WAIT_POLL_MS));
  }
}
