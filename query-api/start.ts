/**
 * Starts the query API: Redis (reads fail fast), the search engine, the app, the keyspace
 * subscription that invalidates the in-process cache, the server. Used by main.ts, the tests and
 * the benchmark alike.
 */
import { refuseFirst } from '../platform/flow/gate.ts';
import type { Server } from 'node:http';
import type { Config } from '../platform/config.ts';
import type { FlowRules } from '../platform/flow/rules.ts';
import { jwtSettingsOf } from '../platform/http/auth.ts';
import type { HealthResponse } from '../platform/http/health.ts';
import { createRegistry, type Registry } from '../platform/http/metrics.ts';
import { defaultAdminPort, serveHandler } from '../platform/http/admin.ts';
import { boundPort, connectionLimitsOf, drain, listen } from '../platform/http/server.ts';
import { healthOf } from '../platform/http/service-app.ts';
import { createLogger, type Logger } from '../platform/logger.ts';
import { patientVault } from '../platform/patient-vault.ts';
import { createPool } from '../platform/pg.ts';
import { createEventStore } from '../platform/event-store/index.ts';
import { createRedis, whenReady } from '../platform/redis.ts';
import { rootPrefix } from '../read-models/bookings.ts';
import { catalogKeyPrefix } from '../read-models/catalog.ts';
import { fileDefaultFlowRules } from '../platform/flow/default-rules.ts';
import { FlowRuleStore } from '../platform/flow/rule-store.ts';
import { ClusterBudgets } from '../platform/flow/cluster.ts';
import { AppointmentAccess } from './appointment-access.ts';
import { searchFromConfig } from '../platform/search/index.ts';
import { createApp, type QueryApi } from './app.ts';
import { answerHitsFirst } from './fast-path.ts';
import { subscribeInvalidations } from './cache/invalidation.ts';
import type { QueryApiConfig } from './config.ts';

export interface QueryApiStartOptions {
  /** REDIS_URL and JWT_SECRET come from here (tests override them). */
  config: Config;
  queryConfig: QueryApiConfig;
  logger?: Logger;
  registry?: Registry;
  /** Default: PORT, else QUERY_API_PORT (0 picks a free port). */
  port?: number;
  /** Default HOST (127.0.0.1). */
  host?: string;
  /** Default: ADMIN_PORT, else the port + 1000 (0 picks a free port). */
  adminPort?: number;
  /** Override the read-model names of `queryConfig` (tests, benchmarks). */
  readModelRoot?: string;
  catalogPrefix?: string;
  searchAlias?: string;
  /** Inbound flow rules (tests). Default: platform/flow/default-rules.ts. */
  flowRules?: FlowRules;
}

export interface QueryApiHandle {
  readonly port: number;
  readonly url: string;
  /** /metrics and the detailed health. */
  readonly adminUrl: string;
  /** Resolves at once: start waits for Redis and the invalidation subscription before listening. */
  readonly ready: Promise<void>;
  readonly server: Server;
  readonly api: QueryApi;
  readonly health: { live: () => Promise<HealthResponse>; ready: () => Promise<HealthResponse> };
  /** Fails readiness, drains in-flight requests (up to `drainMs`), then closes the clients. */
  stop: (drainMs?: number) => Promise<void>;
}

export async function startQueryApi(opts: QueryApiStartOptions): Promise<QueryApiHandle> {
  const { config, queryConfig } = opts;
  const logger = opts.logger ?? createLogger('query-api', config.LOG_LEVEL);
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
  await whenReady(redis);
  const search = searchFromConfig(config, { requestTimeoutMs: 1500, maxRetries: 0 });
  // A small pool: one indexed lookup (and a vault read) per GET /v1/appointments/{id}.
  const pool = createPool(
    { DATABASE_URL: config.DATABASE_URL, PG_POOL_MAX: Math.min(config.PG_POOL_MAX, 5) },
    { applicationName: 'query-api', statementTimeoutMs: 2_000, logger },
  );
  // The store's head only (read-your-writes on one appointment): through the port, whichever store.
  const eventStore = await createEventStore(config, { pool });
  // No vault cache here: a forgotten patient is refused (and revealed nothing) from the next request.
  const appointments = new AppointmentAccess(
    pool,
    eventStore.store,
    patientVault(pool, config, { ttlMs: 0 }),
  );
  const api = createApp({
    appointments,
    redis,
    search,
    config: queryConfig,
    jwt: jwtSettingsOf(config),
    readModelRoot,
    catalogPrefix,
    searchAlias,
    logger,
    registry: opts.registry ?? createRegistry(),
    // Rules given (tests) stay as given; otherwise this environment's live rules (FLOW_RULES_KEY).
    ...(opts.flowRules
      ? { flowRules: opts.flowRules }
      : {
          flowRuleStore: new FlowRuleStore(
            redis,
            config.FLOW_RULES_KEY,
            fileDefaultFlowRules(config.FLOW_RULES_FILE),
          ),
          flowClusterBudgets: new ClusterBudgets(redis, `${config.FLOW_RULES_KEY}:budget:`),
        }),
  });
  const subscription = await subscribeInvalidations(
    createRedis(config, 'query-api-invalidation', {}, logger),
    api.cache,
    logger,
    { prefixes: [rootPrefix(readModelRoot), catalogKeyPrefix(catalogPrefix)] },
  );
  const host = opts.host ?? config.HOST;
  const requested = opts.port ?? config.PORT ?? config.QUERY_API_PORT;
  const server = await listen(api.handler, requested, host, connectionLimitsOf(config));
  // Cache hits first (never limited, only counted), then refusals, both ahead of the tracing instrumentation.
  refuseFirst(server, api.gate);
  answerHitsFirst(server, api.handler);
  const port = boundPort(server);
  const adminPort = opts.adminPort ?? defaultAdminPort(requested, config.ADMIN_PORT);
  const admin = await serveHandler(api.admin, adminPort, host);
  let stopping: Promise<void> | undefined;
  return {
    port,
    url: `http://${host}:${port}`,
    adminUrl: admin.url,
    ready: Promise.resolve(),
    server,
    api,
    health: healthOf(api.app),
    stop: (drainMs = 10_000) =>
      (stopping ??= (async () => {
        api.beginShutdown();
        await drain(server, drainMs);
        await admin.close();
        await subscription.close();
        redis.disconnect();
        await search.close();
        await eventStore.close();
        await pool.end();
      })()),
  };
}
