import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { Config } from './config.ts';
import type { Logger } from './logger.ts';
import { armLoopFairTimeouts } from './redis-command-timeout.ts';

/**
 * What every Redis user takes: one Redis or a Redis Cluster (docs/adr/0020). The commands, Lua
 * scripts (`defineCommand`), pipelines and MULTI are the same on both as long as each script,
 * pipeline and transaction stays in one hash slot, which the read models' key layouts guarantee
 * (read-models/bookings.ts, read-models/catalog.ts). What differs is what is node-local: SCAN and
 * keyspace notifications, see `masters` and `scanKeys`.
 */
export type RedisClient = Redis | Cluster;

export type RedisConfig = Pick<Config, 'REDIS_URL'> & Partial<Pick<Config, 'REDIS_CLUSTER_NODES'>>;

export const isCluster = (redis: RedisClient): redis is Cluster => redis.isCluster;

/**
 * ioredis with bounded failure: commands fail fast when Redis is down instead of queueing
 * forever, so callers can degrade (serve a cached copy, answer 503) within their budget.
 * Connection errors are logged (at most once per 10 s per message), never thrown as unhandled
 * 'error' events: the client reconnects by itself and commands report their own failures.
 * `commandTimeout` is honoured without failing replies that a busy event loop read late.
 *
 * With `REDIS_CLUSTER_NODES` set, a Cluster client seeded with those nodes; REDIS_URL then only
 * lends its credentials and TLS (its host is not used).
 */
export function createRedis(
  config: RedisConfig,
  name: string,
  opts: RedisOptions = {},
  logger?: Logger,
): RedisClient {
  // The per-command deadline is ours, not ioredis's: see redis-command-timeout.ts.
  const { commandTimeout, ...rest } = opts;
  const base: RedisOptions = {
    connectionName: name,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    enableOfflineQueue: true,
    retryStrategy: (times) => Math.min(times * 100, 2000),
    ...rest,
  };
  const nodes = config.REDIS_CLUSTER_NODES ?? [];
  const redis =
    nodes.length > 0 ? createCluster(config.REDIS_URL, nodes, base) : new Redis(config.REDIS_URL, base);
  if (commandTimeout !== undefined) armLoopFairTimeouts(redis, commandTimeout);
  const lastLogged = new Map<string, number>();
  redis.on('error', (err: Error) => {
    const now = Date.now();
    if ((lastLogged.get(err.message) ?? 0) + 10_000 > now) return;
    lastLogged.set(err.message, now);
    logger?.warn({ err: err.message, redis: name }, 'redis connection error');
  });
  return redis;
}

function createCluster(url: string, nodes: readonly string[], opts: RedisOptions): Cluster {
  const { retryStrategy, enableOfflineQueue, lazyConnect, ...nodeOptions } = opts;
  const parsed = new URL(url);
  const redisOptions: ClusterOptions['redisOptions'] = {
    ...nodeOptions,
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
  };
  return new Cluster(
    nodes.map((n) => {
      const i = n.lastIndexOf(':');
      return { host: n.slice(0, i), port: Number(n.slice(i + 1)) };
    }),
    {
      redisOptions,
      ...(retryStrategy ? { clusterRetryStrategy: (times: number) => retryStrategy(times) } : {}),
      ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
      ...(lazyConnect === undefined ? {} : { lazyConnect }),
      // A moved slot (resharding, failover) is followed a few times, then the command fails.
      maxRedirections: 8,
      slotsRefreshTimeout: 2000,
    },
  );
}

/**
 * Resolves once the client can take commands: a cluster once it knows its slots and holds a
 * connection to every master (a cluster client connects to a node on its first command, which a
 * caller with a tight per-command budget, like the query API, would otherwise spend on the connect).
 */
export async function whenReady(redis: RedisClient): Promise<void> {
  await new Promise<void>((resolve) => {
    if (redis.status === 'ready') resolve();
    else redis.once('ready', () => resolve());
  });
  if (!isCluster(redis)) return;
  const idle = redis.nodes('master').filter((node) => node.status === 'wait');
  await Promise.all(idle.map((node) => node.connect().catch(() => undefined)));
}

/**
 * The clients of every master: what node-local commands (SCAN, keyspace notifications, CONFIG)
 * must be sent to. A single Redis is its own only master.
 */
export function masters(redis: RedisClient): Redis[] {
  return isCluster(redis) ? redis.nodes('master') : [redis];
}

/** Every key matching `match`, on every master (SCAN, so a large keyspace is not blocked). */
export async function scanKeys(
  redis: RedisClient,
  match: string,
  opts: { type?: string } = {},
): Promise<string[]> {
  const keys: string[] = [];
  for await (const batch of scanBatches(redis, match, opts)) keys.push(...batch);
  return keys;
}

/** The same, one SCAN reply at a time (for callers that act on each batch, e.g. UNLINK). */
export async function* scanBatches(
  redis: RedisClient,
  match: string,
  opts: { type?: string; count?: number } = {},
): AsyncGenerator<string[]> {
  if (isCluster(redis)) await whenReady(redis);
  for (const node of masters(redis)) {
    let cursor = '0';
    do {
      const [next, found] = opts.type
        ? await node.scan(cursor, 'MATCH', match, 'COUNT', opts.count ?? 1000, 'TYPE', opts.type)
        : await node.scan(cursor, 'MATCH', match, 'COUNT', opts.count ?? 1000);
      cursor = next;
      if (found.length) yield found;
    } while (cursor !== '0');
  }
}
