import { z } from 'zod';
import { intWithDefault, optionalText } from './config-fields';

/** One `host:port` of a Sentinel or a cluster seed (an IPv6 host in brackets: `[::1]:26379`). */
export interface RedisNodeAddress {
  host: string;
  port: number;
}

function parseAddress(entry: string): RedisNodeAddress | null {
  const m = /^\[?([^[\]]+?)\]?:(\d{1,5})$/.exec(entry);
  if (!m) return null;
  const port = Number(m[2]);
  return port >= 1 && port <= 65535 ? { host: m[1]!, port } : null;
}

/** A comma-separated `host:port` list; an entry that is not one names its position, never the list. */
const addressList = z.preprocess(
  (v) => (typeof v === 'string' ? v : ''),
  z.string().transform((v, ctx) => {
    const entries = v.split(',').map((e) => e.trim()).filter(Boolean);
    const addresses: RedisNodeAddress[] = [];
    entries.forEach((entry, i) => {
      const address = parseAddress(entry);
      if (address) addresses.push(address);
      else ctx.addIssue({ code: 'custom', message: `entry ${i + 1} is not host:port (comma-separated, e.g. 10.0.0.5:26379,10.0.0.6:26379)` });
    });
    return addresses;
  }),
);

/** The Redis topology's settings (single, Sentinel or Cluster), spread into src/config.ts's schema. */
export const redisTopologySettings = {
  // Sentinels to ask where the primary of REDIS_SENTINEL_NAME is; REDIS_URL then gives only credentials, TLS and db.
  REDIS_SENTINELS: addressList,
  REDIS_SENTINEL_NAME: optionalText,
  // Sentinels' own password (requirepass in sentinel.conf), when they have one; the data nodes' is REDIS_URL's.
  REDIS_SENTINEL_PASSWORD: optionalText,
  // The same read from a file (a Docker/Kubernetes secret), as REDIS_PASSWORD_FILE is for the data nodes.
  REDIS_SENTINEL_PASSWORD_FILE: optionalText,
  // Seed nodes of a Redis Cluster (any few masters or replicas: the rest is discovered); REDIS_URL gives credentials and TLS.
  REDIS_CLUSTER_NODES: addressList,
  // Replicas that must have each acceptance (Redis WAIT) before its 2xx; 0 = answer once the primary has it.
  REDIS_MIN_REPLICAS_ACK: intWithDefault(0, 0, 16),
  REDIS_REPLICA_ACK_TIMEOUT_MS: intWithDefault(500, 1, 30000),
};

type TopologyFields = {
  REDIS_URL: string;
  QUEUE_PREFIX: string;
  ENQUEUE_TIMEOUT_MS: number;
  REDIS_SENTINELS: RedisNodeAddress[];
  REDIS_SENTINEL_NAME?: string | undefined;
  REDIS_SENTINEL_PASSWORD?: string | undefined;
  REDIS_SENTINEL_PASSWORD_FILE?: string | undefined;
  REDIS_CLUSTER_NODES: RedisNodeAddress[];
  REDIS_MIN_REPLICAS_ACK: number;
  REDIS_REPLICA_ACK_TIMEOUT_MS: number;
};

/**
 * True when every key under `<prefix>:` hashes to one cluster slot: the prefix's first `{` is closed by a `}` with
 * something between (Redis hashes only that part), so BullMQ's scripts and the ledger's stay in one slot.
 */
function isHashTagged(prefix: string): boolean {
  return /^[^{]*\{[^}]+\}/.test(prefix);
}

/** Exactly one topology, and what a cluster needs; one line per problem, never a value from a secret. */
export function redisTopologyProblems(c: TopologyFields): string[] {
  const problems: string[] = [];
  const sentinel = c.REDIS_SENTINELS.length > 0 || c.REDIS_SENTINEL_NAME !== undefined;
  const cluster = c.REDIS_CLUSTER_NODES.length > 0;
  if (sentinel && cluster) problems.push('REDIS_SENTINELS, REDIS_CLUSTER_NODES: set one topology, Sentinel or Cluster, not both');
  if (c.REDIS_SENTINELS.length > 0 && c.REDIS_SENTINEL_NAME === undefined) problems.push('REDIS_SENTINEL_NAME: is required when REDIS_SENTINELS is set (the master group name in sentinel.conf, e.g. mymaster)');
  if (c.REDIS_SENTINEL_NAME !== undefined && c.REDIS_SENTINELS.length === 0) problems.push('REDIS_SENTINELS: is required when REDIS_SENTINEL_NAME is set (comma-separated host:port of the sentinels)');
  if (c.REDIS_SENTINEL_PASSWORD !== undefined && !sentinel) problems.push('REDIS_SENTINEL_PASSWORD: only applies with REDIS_SENTINELS and REDIS_SENTINEL_NAME');
  if (c.REDIS_SENTINEL_PASSWORD_FILE !== undefined && !sentinel) problems.push('REDIS_SENTINEL_PASSWORD_FILE: only applies with REDIS_SENTINELS and REDIS_SENTINEL_NAME');
  if (c.REDIS_SENTINEL_PASSWORD_FILE !== undefined && c.REDIS_SENTINEL_PASSWORD !== undefined) problems.push('REDIS_SENTINEL_PASSWORD_FILE: set it or REDIS_SENTINEL_PASSWORD, not both');
  if (cluster && !isHashTagged(c.QUEUE_PREFIX)) problems.push('QUEUE_PREFIX: must be a hash tag such as {pmg} when REDIS_CLUSTER_NODES is set, so every queue\'s and the ledger\'s keys share one slot (renaming it strands the jobs stored under the old prefix)');
  if (cluster && dbOf(c.REDIS_URL) !== 0) problems.push('REDIS_URL: a Redis Cluster has only database 0; remove the /<db> from the URL');
  if (c.REDIS_MIN_REPLICAS_ACK > 0 && c.REDIS_REPLICA_ACK_TIMEOUT_MS >= c.ENQUEUE_TIMEOUT_MS) problems.push('REDIS_REPLICA_ACK_TIMEOUT_MS: must be less than ENQUEUE_TIMEOUT_MS (the wait for replicas happens inside the enqueue deadline)');
  return problems;
}

/** The database number in REDIS_URL's path (0 when none). */
function dbOf(url: string): number {
  const db = new URL(url).pathname.replace(/^\//, '');
  return db === '' ? 0 : Number(db);
}
