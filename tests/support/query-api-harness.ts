import type { Server } from 'node:http';
import { createApp, type QueryApi } from '../../query-api/app.ts';
import { subscribeInvalidations } from '../../query-api/cache/invalidation.ts';
import { parseQueryApiConfig, type QueryApiConfig } from '../../query-api/config.ts';
import type { Config } from '../../platform/config.ts';
import { boundPort, listen } from '../../platform/http/server.ts';
import { createLogger } from '../../platform/logger.ts';
import { createRedis } from '../../platform/redis.ts';
import { searchFromConfig } from '../../platform/search/index.ts';

export interface QueryInstance {
  api: QueryApi;
  baseUrl: string;
  get(path: string, headers?: Record<string, string>): Promise<Response>;
  close(): Promise<void>;
}

/** One query-api instance on port 0, wired like main.ts but with the test's prefixes. */
export async function startQueryInstance(
  config: Config,
  opts: {
    catalogPrefix: string;
    searchAlias: string;
    readModelRoot: string;
    redisUrl?: string;
    jwtSecret?: string;
    queryConfig?: Partial<QueryApiConfig>;
  },
): Promise<QueryInstance> {
  const parsed = parseQueryApiConfig({});
  if (!parsed.ok) throw new Error(parsed.errors.join('\n'));
  const queryConfig = { ...parsed.config, ...opts.queryConfig };
  const redisConfig = { REDIS_URL: opts.redisUrl ?? config.REDIS_URL };
  const logger = createLogger('query-api-test', process.env.LOG_LEVEL ?? 'warn');
  const redis = createRedis(redisConfig, 'query-api-test', {
    enableOfflineQueue: false,
    commandTimeout: queryConfig.QUERY_REDIS_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    retryStrategy: (times) => Math.min(times * 50, 500),
  });
  await new Promise<void>((resolve) =>
    redis.status === 'ready' ? resolve() : redis.once('ready', () => resolve()),
  );
  const search = searchFromConfig(config, { requestTimeoutMs: 1500, maxRetries: 0 });
  const api = createApp({
    redis,
    search,
    config: queryConfig,
    jwtSecret: opts.jwtSecret ?? config.JWT_SECRET,
    readModelRoot: opts.readModelRoot,
    catalogPrefix: opts.catalogPrefix,
    searchAlias: opts.searchAlias,
    logger,
  });
  const subscription = await subscribeInvalidations(
    createRedis(redisConfig, 'query-api-test-sub'),
    api.cache,
    logger,
    {
      prefixes: [`${opts.readModelRoot}:`, opts.catalogPrefix],
    },
  );
  const server: Server = await listen(api.handler, 0, '127.0.0.1');
  const baseUrl = `http://127.0.0.1:${boundPort(server)}`;
  return {
    api,
    baseUrl,
    get: (path, headers = {}) => fetch(`${baseUrl}${path}`, { headers }),
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await subscription.close();
      redis.disconnect();
      await search.close();
    },
  };
}
