import type { Cluster, Redis } from 'ioredis';
import { isCluster, whenReady, type RedisClient } from '../../platform/redis.ts';
import type { Logger } from '../../platform/logger.ts';
import type { TwoLevelCache } from './two-level-cache.ts';

export interface InvalidationOptions {
  /** Only keys under these prefixes matter to the query API. */
  prefixes: readonly string[];
  /**
   * Turn on keyspace notifications if the server has them off (merged into its current flags).
   * Managed Redis may forbid CONFIG; then set `notify-keyspace-events` to include `K` and `A`.
   */
  configure?: boolean;
}

/** Adds K (keyspace channel) and A (every event class) to whatever flags the server has. */
export function withKeyspaceFlags(current: string): string | undefined {
  const hasEvents = current.includes('A') || ['g', '$', 'h', 'z'].every((c) => current.includes(c));
  if (current.includes('K') && hasEvents) return undefined;
  return [...new Set(`${current}KA`)].join('');
}

/**
 * Keeps every query-api instance's in-process cache honest without any cooperation from the
 * writers: Redis publishes a keyspace notification for every change to a read-model key (from
 * projectors, rebuilds, or anyone), and the entries built from that key are invalidated. Whenever
 * the subscription may have missed something — the connection closed, or a new server (restart,
 * failover) may have notifications off — the whole cache is invalidated and the flags re-checked.
 */
export async function subscribeInvalidations(
  client: RedisClient,
  cache: TwoLevelCache,
  logger: Logger,
  opts: InvalidationOptions,
): Promise<{ close(): Promise<void> }> {
  return isCluster(client)
    ? subscribeEveryMaster(client, cache, logger, opts)
    : subscribeNode(client, cache, logger, opts);
}

type Subscription = { close(): Promise<void> };

/**
 * Redis Cluster: keyspace notifications are node-local (a node publishes the changes of its own
 * slots, never forwards them), so one subscriber per master. The cluster client itself only tells
 * the topology: a node that joins (failover, resharding) gets a subscriber, one that leaves loses
 * it, and both invalidate the whole cache, since changes may have been missed in between.
 */
async function subscribeEveryMaster(
  cluster: Cluster,
  cache: TwoLevelCache,
  logger: Logger,
  opts: InvalidationOptions,
): Promise<Subscription> {
  await whenReady(cluster);
  const subscriptions = new Map<string, Promise<Subscription>>();
  const nameOf = (node: Redis) => `${node.options.host ?? ''}:${node.options.port ?? ''}`;
  const add = (node: Redis) => {
    const name = nameOf(node);
    if (subscriptions.has(name)) return;
    // The cluster's own node clients never reconnect by themselves: a subscriber must.
    const subscriber = node.duplicate({
      connectionName: `query-api-invalidation-${name}`,
      retryStrategy: (times) => Math.min(times * 100, 2000),
    });
    subscriber.on('error', () => undefined); // reported by the cluster client; a subscriber just reconnects
    const subscription = subscribeNode(subscriber, cache, logger, opts);
    subscriptions.set(name, subscription);
    subscription.catch((err: unknown) => {
      logger.warn({ err, node: name }, 'could not subscribe to keyspace notifications');
      subscriptions.delete(name);
      subscriber.disconnect();
    });
  };
  for (const node of cluster.nodes('master')) add(node);
  await Promise.all(subscriptions.values());
  const joined = (node: Redis) => {
    add(node);
    cache.invalidateAll();
  };
  const left = (node: Redis) => {
    const subscription = subscriptions.get(nameOf(node));
    subscriptions.delete(nameOf(node));
    void subscription?.then((s) => s.close()).catch(() => undefined);
    cache.invalidateAll();
  };
  cluster.on('+node', joined);
  cluster.on('-node', left);
  return {
    async close() {
      cluster.off('+node', joined);
      cluster.off('-node', left);
      const all = [...subscriptions.values()];
      subscriptions.clear();
      await Promise.all(all.map((p) => p.then((s) => s.close()).catch(() => undefined)));
      cluster.disconnect();
    },
  };
}

async function subscribeNode(
  subscriber: Redis,
  cache: TwoLevelCache,
  logger: Logger,
  opts: InvalidationOptions,
): Promise<Subscription> {
  const db = subscriber.options.db ?? 0;
  const channelPrefix = `__keyspace@${db}__:`;
  const patterns = opts.prefixes.map((p) => `${channelPrefix}${p}*`);
  // CONFIG cannot run on a connection in subscriber mode: a short-lived twin does it.
  const ensureNotifications = async () => {
    if (opts.configure === false) return;
    const admin = subscriber.duplicate({ lazyConnect: true, maxRetriesPerRequest: 1 });
    admin.on('error', () => undefined);
    try {
      await admin.connect();
      const current = ((await admin.config('GET', 'notify-keyspace-events')) as string[])[1] ?? '';
      const wanted = withKeyspaceFlags(current);
      if (wanted !== undefined) {
        await admin.config('SET', 'notify-keyspace-events', wanted);
        logger.info({ previous: current, now: wanted }, 'enabled Redis keyspace notifications');
      }
    } finally {
      admin.disconnect();
    }
  };

  await ensureNotifications();
  let closing = false;
  subscriber.on('close', () => {
    if (!closing) cache.invalidateAll();
  });
  let connectedOnce = subscriber.status === 'ready';
  subscriber.on('ready', () => {
    if (!connectedOnce) {
      connectedOnce = true;
      return;
    }
    // ioredis re-subscribes after 'ready': changes until then are covered by invalidating again
    // once the server answers, after making sure it still publishes notifications.
    ensureNotifications()
      .catch((err: unknown) => logger.warn({ err }, 'could not check keyspace notifications'))
      .finally(() => {
        setTimeout(() => cache.invalidateAll(), 50).unref();
        logger.warn('Redis subscription re-established: in-process cache invalidated');
      });
  });
  subscriber.on('pmessage', (_pattern: string, channel: string) => {
    cache.invalidateDependency(channel.slice(channelPrefix.length));
  });
  await subscriber.psubscribe(...patterns);
  return {
    async close() {
      closing = true;
      await subscriber.punsubscribe(...patterns).catch(() => undefined);
      subscriber.disconnect();
    },
  };
}
