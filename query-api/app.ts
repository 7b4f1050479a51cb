/**
 * The query API as an Express app, built from its dependencies so tests can run several
 * instances on port 0 against the real Redis and search engine. `main.ts` wires real ones.
 */
import express, { type Express } from 'express';
import type { Redis } from 'ioredis';
import { Gauge } from 'prom-client';
import { healthRouter } from '../platform/http/health.ts';
import {
  createRegistry,
  httpMetricsMiddleware,
  metricsHandler,
  type Registry,
} from '../platform/http/metrics.ts';
import { notFoundHandler, problemMiddleware } from '../platform/http/problem-middleware.ts';
import { requestLogger, traceMiddleware } from '../platform/http/trace.ts';
import { createLogger, type Logger } from '../platform/logger.ts';
import type { SearchEngine } from '../platform/search/index.ts';
import { TwoLevelCache } from './cache/two-level-cache.ts';
import type { QueryApiConfig } from './config.ts';
import { BookingReader } from './read-models/booking-reader.ts';
import { CatalogReader } from './read-models/catalog-reader.ts';
import { queryRoutes } from './routes.ts';

export interface QueryApiDeps {
  redis: Redis;
  search: SearchEngine;
  config: QueryApiConfig;
  jwtSecret: string;
  /** Root of the booking read-model keys (`rm`). */
  readModelRoot: string;
  /** Prefix of the catalog read-model keys (`catalog:`). */
  catalogPrefix: string;
  searchAlias: string;
  logger?: Logger;
  registry?: Registry;
  clock?: () => Date;
}

export interface QueryApi {
  app: Express;
  cache: TwoLevelCache;
  registry: Registry;
  beginShutdown(): void;
}

export function createApp(deps: QueryApiDeps): QueryApi {
  const logger = deps.logger ?? createLogger('query-api');
  const registry = deps.registry ?? createRegistry();
  const cache = new TwoLevelCache({
    maxBytes: deps.config.QUERY_L1_MAX_MB * 1024 * 1024,
    ttlMs: deps.config.QUERY_L1_TTL_MS,
    maxStaleMs: deps.config.QUERY_L1_MAX_STALE_MS,
  });
  new Gauge({
    name: 'query_cache_l1_entries',
    help: 'Responses held in the in-process cache',
    registers: [registry],
    collect() {
      this.set(cache.size);
    },
  });

  let shuttingDown = false;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  app.use(traceMiddleware());
  app.use(httpMetricsMiddleware(registry));
  app.use(requestLogger(logger));
  app.use((_req, res, next) => {
    if (shuttingDown) res.setHeader('Connection', 'close');
    next();
  });
  app.use(
    healthRouter({
      checks: { redis: () => deps.redis.ping() },
      isShuttingDown: () => shuttingDown,
      timeoutMs: 500,
    }),
  );
  app.get('/metrics', metricsHandler(registry));
  app.use(
    queryRoutes({
      cache,
      catalog: new CatalogReader(deps.redis, deps.catalogPrefix),
      bookings: new BookingReader(deps.redis, deps.readModelRoot),
      search: deps.search,
      searchAlias: deps.searchAlias,
      config: deps.config,
      jwtSecret: deps.jwtSecret,
      registry,
      redisReady: () => deps.redis.status === 'ready',
      ...(deps.clock ? { clock: deps.clock } : {}),
    }),
  );
  app.use(notFoundHandler);
  app.use(problemMiddleware(logger));

  return {
    app,
    cache,
    registry,
    beginShutdown: () => {
      shuttingDown = true;
    },
  };
}
