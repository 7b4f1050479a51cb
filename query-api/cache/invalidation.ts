import type { Redis } from 'ioredis';
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
  subscriber: Redis,
  cache: TwoLevelCache,
  logger: Logger,
  opts: InvalidationOptions,
): Promise<{ close(): Promise<void> }> {
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
