import { Redis, type RedisOptions } from 'ioredis';
import type { Config } from './config.ts';
import type { Logger } from './logger.ts';

/**
 * ioredis with bounded failure: commands fail fast when Redis is down instead of queueing
 * forever, so callers can degrade (serve a cached copy, answer 503) within their budget.
 * Connection errors are logged (at most once per 10 s per message), never thrown as unhandled
 * 'error' events: the client reconnects by itself and commands report their own failures.
 */
export function createRedis(
  config: Pick<Config, 'REDIS_URL'>,
  name: string,
  opts: RedisOptions = {},
  logger?: Logger,
): Redis {
  const redis = new Redis(config.REDIS_URL, {
    connectionName: name,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    enableOfflineQueue: true,
    retryStrategy: (times) => Math.min(times * 100, 2000),
    ...opts,
  });
  const lastLogged = new Map<string, number>();
  redis.on('error', (err: Error) => {
    const now = Date.now();
    if ((lastLogged.get(err.message) ?? 0) + 10_000 > now) return;
    lastLogged.set(err.message, now);
    logger?.warn({ err: err.message, redis: name }, 'redis connection error');
  });
  return redis;
}
