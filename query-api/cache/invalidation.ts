import type { Redis } from 'ioredis';
import type { Logger } from '../../platform/logger.ts';
import type { TwoLevelCache } from './two-level-cache.ts';

export interface InvalidationOptions {
  /** Only keys under these prefixes matter to the query API. */
  prefixes: readonly string[];
  db?: number;
  /**
   * Turn on keyspace notifications if the server has them off. Managed Redis may forbid CONFIG;
   * then set `notify-keyspace-events` to include `K` and `A` in its configuration.
   */
  configure?: boolean;
}

/**
 * Keeps every query-api instance's in-process cache honest without any cooperation from the
 * writers: Redis publishes a keyspace notification for every change to a read-model key (from
 * projectors, rebuilds, or anyone), and the entries built from that key are invalidated. A lost
 * subscription invalidates everything, since changes may have been missed meanwhile.
 */
export async function subscribeInvalidations(
  subscriber: Redis,
  cache: TwoLevelCache,
  logger: Logger,
  opts: InvalidationOptions,
): Promise<{ close(): Promise<void> }> {
  const db = opts.db ?? 0;
  if (opts.configure !== false) {
    const current = ((await subscriber.config('GET', 'notify-keyspace-events')) as string[])[1] ?? '';
    if (
      !current.includes('K') ||
      !(current.includes('A') || ['g', '$', 'h', 'z'].every((c) => current.includes(c)))
    ) {
      await subscriber.config('SET', 'notify-keyspace-events', 'KA');
      logger.info({ previous: current }, 'enabled Redis keyspace notifications (KA)');
    }
  }
  const channelPrefix = `__keyspace@${db}__:`;
  const patterns = opts.prefixes.map((p) => `${channelPrefix}${p}*`);

  let connectedBefore = false;
  subscriber.on('ready', () => {
    if (connectedBefore) {
      cache.invalidateAll();
      logger.warn('Redis subscription re-established: in-process cache invalidated');
    }
    connectedBefore = true;
  });
  subscriber.on('pmessage', (_pattern: string, channel: string) => {
    cache.invalidateDependency(channel.slice(channelPrefix.length));
  });
  await subscriber.psubscribe(...patterns);
  connectedBefore = true;
  return {
    async close() {
      await subscriber.punsubscribe(...patterns).catch(() => undefined);
      subscriber.disconnect();
    },
  };
}
