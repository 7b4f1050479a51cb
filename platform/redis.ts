import { Redis, type RedisOptions } from 'ioredis';
import type { Config } from './config.ts';

/**
 * ioredis with bounded failure: commands fail fast when Redis is down instead of queueing
 * forever, so callers can degrade (serve a cached copy, answer 503) within their budget.
 */
export function createRedis(config: Pick<Config, 'REDIS_URL'>, name: string, opts: RedisOptions = {}): Redis {
  return new Redis(config.REDIS_URL, {
    connectionName: name,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    enableOfflineQueue: true,
    retryStrategy: (times) => Math.min(times * 100, 2000),
    ...opts,
  });
}
