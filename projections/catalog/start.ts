/**
 * Starts the catalog projection process: the CDC projectors of projectors.ts behind a worker
 * server (/healthz, /readyz, /metrics). Used by main.ts and by tests that need the process as a
 * whole. Startup is retried until it succeeds or the handle is stopped (see ../startup.ts).
 */
import type { Kafka } from 'kafkajs';
import type { Registry } from 'prom-client';
import {
  catalogConnector,
  catalogConnectorSettings,
  catalogTopicCreation,
  type CatalogConnectorSettings,
} from '../../connectors/catalog-connector.ts';
import type { Config } from '../../platform/config.ts';
import { livenessResponse, readinessResponse, type HealthResponse } from '../../platform/http/health.ts';
import { createRegistry } from '../../platform/http/metrics.ts';
import { kafkaProbe } from '../../platform/kafka-probe.ts';
import { createKafka } from '../../platform/kafka.ts';
import { createLogger, type Logger } from '../../platform/logger.ts';
import { createRedis, type RedisClient } from '../../platform/redis.ts';
import { startSampler, type Sampler } from '../../platform/sampler.ts';
import { type SearchEngine, searchFromConfig } from '../../platform/search/index.ts';
import { serveWorker, type WorkerServer } from '../../platform/worker-shell.ts';
import { deathWatch, projectionsHealth } from '../health.ts';
import { describeError } from '../runtime/errors.ts';
import { startup } from '../startup.ts';
import type { CatalogProjectionConfig } from './config.ts';
import { startCatalogProjection, type ApplyObserver, type CatalogProjection } from './projectors.ts';

export interface CatalogStartConfig {
  platform: Config;
  catalog: CatalogProjectionConfig;
  /** The connector whose topics are read (topic prefix, topic creation). Default: from the environment. */
  connector?: CatalogConnectorSettings;
}

export interface StartCatalogDeps {
  logger?: Logger;
  registry?: Registry;
  /** Clients owned by the caller (not closed by stop); created from the config otherwise. */
  kafka?: Kafka;
  redis?: RedisClient;
  search?: SearchEngine;
  /** Default CATALOG_PROJECTIONS_PORT, where 0 means no server; here 0 picks a free port. */
  port?: number;
  /** Default HOST (127.0.0.1). */
  host?: string;
  /** Default: ADMIN_PORT, else the port + 1000 (0 picks a free port). */
  adminPort?: number;
  probe?: { intervalMs?: number; timeoutMs?: number };
  /** Called after each applied batch (freshness measurements in tests and benchmarks). */
  observe?: ApplyObserver;
}

export interface CatalogProjectionsHandle {
  /** Undefined when the process serves no health endpoint (CATALOG_PROJECTIONS_PORT=0). */
  readonly port: number | undefined;
  readonly url: string | undefined;
  /** /metrics and the detailed health (undefined without a server). */
  readonly adminUrl: string | undefined;
  readonly ready: Promise<void>;
  readonly projection: CatalogProjection | undefined;
  /** Resolves with the reason when a projector stopped for good (the composition root exits). */
  readonly failed: Promise<Error>;
  readonly health: { live(): Promise<HealthResponse>; ready(): Promise<HealthResponse> };
  stop: () => Promise<void>;
}

export async function startCatalogProjections(
  config: CatalogStartConfig,
  deps: StartCatalogDeps = {},
): Promise<CatalogProjectionsHandle> {
  const { platform: c, catalog: cc } = config;
  const logger = deps.logger ?? createLogger('catalog-projections', c.LOG_LEVEL);
  const registry = deps.registry ?? createRegistry({ service: 'catalog-projections' });
  const settings = config.connector ?? catalogConnectorSettings(c);
  const kafka = deps.kafka ?? createKafka(c, logger, `${c.KAFKA_CLIENT_ID}-catalog-projections`);
  const redis = deps.redis ?? createRedis(c, 'catalog-projections', {}, logger);
  const search = deps.search ?? searchFromConfig(c);
  const probe = { intervalMs: deps.probe?.intervalMs ?? 5_000, timeoutMs: deps.probe?.timeoutMs ?? 2_000 };
  const boot = startup(logger, 'catalog projection');
  const watch = deathWatch();
  const lag: Sampler<number>[] = [];
  const broker = kafkaProbe(kafka, probe);
  let projection: CatalogProjection | undefined;
  let reportFailure!: (err: Error) => void;
  const failed = new Promise<Error>((resolve) => (reportFailure = resolve));
  const stores = cc.CATALOG_STORES;

  const health = projectionsHealth(
    {
      hasRelay: false,
      relay: () => undefined,
      kafka: broker,
      dependencies: {
        ...(stores.includes('redis') ? { redis: () => redis.ping() } : {}),
        ...(stores.includes('search') || stores.includes('analytics')
          ? {
              search: async () => {
                if ((await search.health()) === 'red') throw new Error('cluster health is red');
              },
            }
          : {}),
      },
      lag: () => lag,
      lagBudgetEvents: c.LAG_BUDGET_EVENTS,
      isStarted: () => projection !== undefined,
      isStopping: () => boot.signal.aborted,
      details: () => ({ stores }),
    },
    watch,
  );

  const startParts = async () => {
    const p = await boot.unlessStopped(
      startCatalogProjection({
        kafka,
        redis,
        search,
        logger,
        topicPrefix: settings.topicPrefix,
        topicCreation: catalogTopicCreation(catalogConnector(settings).config),
        redisPrefix: cc.CATALOG_REDIS_PREFIX,
        searchAlias: cc.CATALOG_SEARCH_ALIAS,
        groupPrefix: cc.CATALOG_GROUP_PREFIX,
        stores,
        analyticsAlias: cc.ANALYTICS_ALIAS,
        registry,
        ...(deps.observe ? { observe: deps.observe } : {}),
      }),
      (started) => started.stop(),
    );
    for (const h of [p.redis, p.search, p.analytics]) {
      if (!h) continue;
      watch.watch(h);
      h.done.catch((err: unknown) => reportFailure(new Error(`${h.name}: ${describeError(err)}`)));
      lag.push(startSampler({ name: h.name, read: () => h.lag(), ...probe }));
    }
    projection = p;
  };

  const port = deps.port ?? (cc.CATALOG_PROJECTIONS_PORT > 0 ? cc.CATALOG_PROJECTIONS_PORT : undefined);
  const server: WorkerServer | undefined =
    port === undefined
      ? undefined
      : await serveWorker({
          registry,
          health,
          port,
          host: deps.host ?? c.HOST,
          ...((deps.adminPort ?? c.ADMIN_PORT) === undefined
            ? {}
            : { adminPort: deps.adminPort ?? c.ADMIN_PORT }),
        }).catch(async (err: unknown) => {
          await broker.close();
          if (!deps.redis) redis.disconnect();
          if (!deps.search) await search.close();
          throw err;
        });
  const ready = boot.retry(startParts);
  ready.catch(() => undefined);

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      boot.stop();
      for (const s of lag) s.stop();
      await broker.close();
      await projection?.stop();
      await server?.close();
      if (!deps.redis) redis.disconnect();
      if (!deps.search) await search.close();
    })());

  return {
    port: server?.port,
    url: server?.url,
    adminUrl: server?.adminUrl,
    ready,
    get projection() {
      return projection;
    },
    failed,
    health: { live: () => livenessResponse(health), ready: () => readinessResponse(health) },
    stop,
  };
}
