/**
 * Composition root of the query API: configuration, Redis (reads fail fast), the keyspace
 * subscription that invalidates the in-process cache, the search engine, server, shutdown.
 *   npx tsx query-api/main.ts        (PORT or QUERY_API_PORT, default 3002)
 */
import { pathToFileURL } from 'node:url';
import { loadConfig, type Config } from '../platform/config.ts';
import { createRegistry } from '../platform/http/metrics.ts';
import { boundPort, listen, onShutdownSignal } from '../platform/http/server.ts';
import { createLogger } from '../platform/logger.ts';
import { createRedis } from '../platform/redis.ts';
import { searchFromConfig } from '../platform/search/index.ts';
import { createApp } from './app.ts';
import { subscribeInvalidations } from './cache/invalidation.ts';
import { parseQueryApiConfig, type QueryApiConfig } from './config.ts';

export interface StartOptions {
  config?: Config;
  queryConfig?: QueryApiConfig;
  port?: number;
  readModelRoot?: string;
  catalogPrefix?: string;
  searchAlias?: string;
}

export async function startQueryApi(opts: StartOptions = {}) {
  const config = opts.config ?? loadConfig();
  const logger = createLogger('query-api', config.LOG_LEVEL);
  let queryConfig = opts.queryConfig;
  if (!queryConfig) {
    const parsed = parseQueryApiConfig(process.env);
    if (!parsed.ok) {
      process.stderr.write(`Invalid configuration:\n${parsed.errors.map((e) => `  - ${e}`).join('\n')}\n`);
      process.exit(1);
    }
    queryConfig = parsed.config;
  }
  const readModelRoot = opts.readModelRoot ?? queryConfig.READ_MODEL_PREFIX;
  const catalogPrefix = opts.catalogPrefix ?? queryConfig.CATALOG_REDIS_PREFIX;
  const searchAlias = opts.searchAlias ?? queryConfig.CATALOG_SEARCH_ALIAS;

  // Reads fail fast when Redis is unreachable: no offline queue, a short per-command timeout.
  const redis = createRedis(
    config,
    'query-api',
    {
      enableOfflineQueue: false,
      commandTimeout: queryConfig.QUERY_REDIS_TIMEOUT_MS,
      maxRetriesPerRequest: 0,
      retryStrategy: (times) => Math.min(times * 50, 1000),
    },
    logger,
  );
  await new Promise<void>((resolve) => {
    if (redis.status === 'ready') resolve();
    else redis.once('ready', () => resolve());
  });
  const search = searchFromConfig(config, { requestTimeoutMs: 1500, maxRetries: 0 });
  const api = createApp({
    redis,
    search,
    config: queryConfig,
    jwtSecret: config.JWT_SECRET,
    readModelRoot,
    catalogPrefix,
    searchAlias,
    logger,
    registry: createRegistry({ defaultMetrics: true, service: 'query-api' }),
  });
  const subscription = await subscribeInvalidations(
    createRedis(config, 'query-api-invalidation', {}, logger),
    api.cache,
    logger,
    {
      prefixes: [`${readModelRoot}:`, catalogPrefix],
    },
  );
  const server = await listen(api.handler, opts.port ?? config.PORT ?? config.QUERY_API_PORT);
  logger.info({ port: boundPort(server) }, 'query API listening');
  const close = async () => {
    await subscription.close();
    redis.disconnect();
    await search.close();
  };
  return { server, api, logger, close, redis };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const started = await startQueryApi();
  onShutdownSignal(started.server, {
    logger: started.logger,
    beforeDrain: () => started.api.beginShutdown(),
    afterDrain: started.close,
  });
}
