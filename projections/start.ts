/**
 * Starts the projections process's parts — the relay (event store → Kafka) and the Redis and
 * search projectors (Kafka → read models), as `PROJECTIONS_COMPONENTS` selects — behind a worker
 * server (/healthz, /readyz, /metrics). Used by main.ts, the tests and the benchmark alike.
 *
 * The server listens first; the parts then start in the background and startup is retried with
 * backoff until it succeeds or the handle is stopped, so a dependency that is down at start
 * (Kafka, PostgreSQL) makes the process degraded and not ready, never a restart loop.
 */
import type { Kafka } from 'kafkajs';
import type { Registry } from 'prom-client';
import type { Config } from '../platform/config.ts';
import { requirePostgresEventStore } from '../platform/event-store/index.ts';
import { PgEventStore } from '../platform/event-store/pg-event-store.ts';
import { livenessResponse, readinessResponse, type HealthResponse } from '../platform/http/health.ts';
import { createRegistry } from '../platform/http/metrics.ts';
import { kafkaProbe } from '../platform/kafka-probe.ts';
import { createKafka, ensureTopics } from '../platform/kafka.ts';
import { createLogger, type Logger } from '../platform/logger.ts';
import { sealingReads } from '../platform/legacy-patients.ts';
import { patientVault } from '../platform/patient-vault.ts';
import { createPool, type Pool } from '../platform/pg.ts';
import { createRedis, type RedisClient } from '../platform/redis.ts';
import { startSampler, type Sampler } from '../platform/sampler.ts';
import { type SearchEngine, searchFromConfig } from '../platform/search/index.ts';
import { serveWorker } from '../platform/worker-shell.ts';
import { groupIdOf, type ProjectionsConfig } from './config.ts';
import { deathWatch, projectionsHealth } from './health.ts';
import { startRelay, type RelayHandle, type RelayStart } from './relay/relay.ts';
import { watchRelay, type RelayWatch } from './relay/relay-watch.ts';
import { guardKeyspace, type KeyspaceGuard } from './redis/keyspace-guard.ts';
import { rebuildRedis } from './rebuild.ts';
import { describeError } from './runtime/errors.ts';
import { startup } from './startup.ts';
import {
  runProjector,
  type BatchHandler,
  type ProjectorHandle,
  type RetryOptions,
} from './runtime/projector-runtime.ts';
import { applyRetention } from './analytics/retention.ts';
import {
  analyticsWriter,
  ensureAppointmentsIndex,
  handlerFor,
  redisWriter,
  searchWriter,
  type ProjectorName,
} from './wiring.ts';

export interface ProjectionsStartConfig {
  platform: Config;
  projections: ProjectionsConfig;
}

/** Seams for tests and the benchmark; production passes none. */
export interface ProjectionsHooks {
  /** Relay: after Kafka acked a batch, before the checkpoint is saved. */
  relayAfterSend?: (events: number) => Promise<void> | void;
  /** Wraps each projector's batch handler (a pause after the writes, timing, observation). */
  wrapHandler?: (projector: ProjectorName, handler: BatchHandler) => BatchHandler;
}

export interface StartProjectionsDeps {
  logger?: Logger;
  registry?: Registry;
  /** Clients owned by the caller (not closed by stop); created from the config otherwise. */
  pool?: Pool;
  kafka?: Kafka;
  redis?: RedisClient;
  engine?: SearchEngine;
  hooks?: ProjectionsHooks;
  /** Default: PORT, else PROJECTIONS_PORT (0 picks a free port). */
  port?: number;
  /** Default HOST (127.0.0.1). */
  host?: string;
  /** Default: ADMIN_PORT, else the port + 1000 (0 picks a free port). */
  adminPort?: number;
  /** Overrides RELAY_START (e.g. a precise checkpoint). */
  relayStartFrom?: RelayStart;
  projectorRetry?: Partial<RetryOptions>;
  /** Background health sampling (Kafka probe, lag). Defaults 5 s and 2 s. */
  probe?: { intervalMs?: number; timeoutMs?: number };
}

export interface ProjectionsHandle {
  readonly port: number;
  readonly url: string;
  /** /metrics and the detailed health. */
  readonly adminUrl: string;
  /** Resolves once every part started; rejects only if stopped first. */
  readonly ready: Promise<void>;
  readonly relay: RelayHandle | undefined;
  readonly projectors: readonly ProjectorHandle[];
  /** Resolves with the reason when a part stopped for good (the composition root exits on it). */
  readonly failed: Promise<Error>;
  readonly health: { live(): Promise<HealthResponse>; ready(): Promise<HealthResponse> };
  stop: () => Promise<void>;
}

/** Clients the process needs, created from the config unless the caller brought its own. */
function clients(config: ProjectionsStartConfig, deps: StartProjectionsDeps, logger: Logger) {
  const { platform: c, projections: pc } = config;
  const has = (x: 'redis' | 'search' | 'analytics') => pc.PROJECTIONS_COMPONENTS.includes(x);
  const owned: (() => Promise<void> | void)[] = [];
  const pool = deps.pool ?? createPool(c, { applicationName: 'projections', logger });
  if (!deps.pool) owned.push(() => pool.end());
  const kafka = deps.kafka ?? createKafka(c, logger, `${c.KAFKA_CLIENT_ID}-projections`);
  const redis = has('redis') ? (deps.redis ?? createRedis(c, 'projections', {}, logger)) : undefined;
  if (redis && !deps.redis) owned.push(() => redis.disconnect());
  const engine = has('search') || has('analytics') ? (deps.engine ?? searchFromConfig(c)) : undefined;
  if (engine && !deps.engine) owned.push(() => engine.close());
  const close = async () => {
    for (const dispose of owned.reverse()) await Promise.resolve(dispose()).catch(() => undefined);
  };
  const patients = patientVault(pool, c);
  return { pool, store: new PgEventStore(pool), patients, kafka, redis, engine, close };
}

export async function startProjections(
  config: ProjectionsStartConfig,
  deps: StartProjectionsDeps = {},
): Promise<ProjectionsHandle> {
  const { platform: c, projections: pc } = config;
  requirePostgresEventStore(
    c,
    'the projections process',
    "the relay's lag and its RELAY_START=end position are queries of the PostgreSQL events table",
  );
  const logger = deps.logger ?? createLogger('projections', c.LOG_LEVEL);
  const registry = deps.registry ?? createRegistry({ service: 'projections' });
  const enabled = (x: 'relay' | 'redis' | 'search' | 'analytics') => pc.PROJECTIONS_COMPONENTS.includes(x);
  const io = clients(config, deps, logger);
  const hooks = deps.hooks ?? {};
  const probe = { intervalMs: deps.probe?.intervalMs ?? 5_000, timeoutMs: deps.probe?.timeoutMs ?? 2_000 };

  const boot = startup(logger, 'projections');
  const { unlessStopped } = boot;

  let relay: RelayHandle | undefined;
  let relayWatch: RelayWatch | undefined;
  let keyspaceGuard: KeyspaceGuard | undefined;
  let retentionTimer: NodeJS.Timeout | undefined;
  const projectors: ProjectorHandle[] = [];
  const lag: Sampler<number>[] = [];
  const watch = deathWatch();
  let started = false;
  let reportFailure!: (err: Error) => void;
  const failed = new Promise<Error>((resolve) => (reportFailure = resolve));
  const broker = kafkaProbe(io.kafka, probe);

  const sampleLag = (name: string, read: () => Promise<number>) =>
    lag.push(startSampler({ name, read, ...probe }));

  const health = projectionsHealth(
    {
      hasRelay: enabled('relay'),
      relay: () => relay,
      kafka: broker,
      dependencies: {
        postgres: () => io.pool.query('SELECT 1'),
        ...(io.redis ? { redis: () => io.redis?.ping() } : {}),
        ...(io.engine ? { search: () => searchAnswers(io.engine) } : {}),
        ...(enabled('relay') ? { 'relay-held-back': () => relayWatch?.check() } : {}),
      },
      lag: () => lag,
      lagBudgetEvents: c.LAG_BUDGET_EVENTS,
      isStarted: () => started,
      isStopping: () => boot.signal.aborted,
      details: () => ({
        components: pc.PROJECTIONS_COMPONENTS,
        ...(relayWatch ? { relay: relayWatch.report() } : {}),
      }),
    },
    watch,
  );

  const common = {
    kafka: io.kafka,
    topics: [pc.EVENTS_TOPIC],
    dlqTopic: pc.EVENTS_DLQ_TOPIC,
    logger,
    registry,
    maxBatchSize: pc.PROJECTOR_BATCH_SIZE,
    partitionsConsumedConcurrently: pc.PROJECTOR_PARTITION_CONCURRENCY,
    consumerConfig: {
      maxBytesPerPartition: pc.PROJECTOR_FETCH_BYTES_PER_PARTITION,
      maxBytes: 6 * pc.PROJECTOR_FETCH_BYTES_PER_PARTITION,
    },
    ...(deps.projectorRetry ? { retry: deps.projectorRetry } : {}),
  };
  const handlerOf = (name: ProjectorName, inner: BatchHandler) => hooks.wrapHandler?.(name, inner) ?? inner;

  async function startProjector(name: ProjectorName, handleBatch: BatchHandler): Promise<void> {
    const p = await unlessStopped(
      runProjector({ ...common, name, groupId: groupIdOf(pc, name), handleBatch }),
      (h) => h.stop(),
    );
    projectors.push(p);
    watch.watch(p);
    p.done.catch((err: unknown) => reportFailure(new Error(`projector ${name}: ${describeError(err)}`)));
    sampleLag(name, () => p.lag());
  }

  /** One attempt at whatever has not started yet; each part starts at most once. */
  async function startParts(): Promise<void> {
    await unlessStopped(ensureEventTopics(io.kafka, pc));
    if (enabled('relay') && !relay) {
      const r = startRelay({
        name: pc.RELAY_NAME,
        // Events stored in v1's clear shape are published as v2: Kafka never sees a patient id.
        store: sealingReads(io.store, io.patients),
        pool: io.pool,
        databaseUrl: c.DATABASE_URL,
        kafka: io.kafka,
        topic: pc.EVENTS_TOPIC,
        logger,
        batchSize: pc.RELAY_BATCH_SIZE,
        maxIdleMs: pc.RELAY_MAX_IDLE_MS,
        startFrom: deps.relayStartFrom ?? pc.RELAY_START,
        registry,
        ...(hooks.relayAfterSend ? { afterSend: hooks.relayAfterSend } : {}),
      });
      relay = r;
      r.done.catch((err: unknown) => reportFailure(new Error(`relay: ${describeError(err)}`)));
      sampleLag('relay', () => r.lag());
      relayWatch = watchRelay({
        pool: io.pool,
        checkpoint: () => r.checkpoint(),
        registry,
        budgetSeconds: pc.RELAY_HELD_BACK_BUDGET_SECONDS,
        ...probe,
      });
      await unlessStopped(r.ready);
    }
    if (io.redis && !projectors.some((p) => p.name === 'redis')) {
      const writer = redisWriter({
        redis: io.redis,
        store: io.store,
        config: pc,
        patients: io.patients,
        requireEpoch: true,
        logger,
      });
      await unlessStopped(writer.liveVersion());
      const redis = io.redis;
      keyspaceGuard = guardKeyspace({
        redis,
        root: pc.READ_MODEL_PREFIX,
        hasProjected: () => groupHasCommitted(io.kafka, groupIdOf(pc, 'redis'), pc.EVENTS_TOPIC),
        rebuild: async (onProgress) => {
          await rebuildRedis({
            store: io.store,
            pool: io.pool,
            kafka: io.kafka,
            config: pc,
            logger,
            redis,
            onProgress,
          });
        },
        logger,
        registry,
        intervalMs: pc.READ_MODEL_CHECK_INTERVAL_MS,
      });
      const guard = keyspaceGuard;
      // A failed attempt (Kafka not answering yet) is retried with a new guard: stop this one.
      await unlessStopped(guard.markIfNew()).catch((err: unknown) => {
        guard.stop();
        throw err;
      });
      await startProjector('redis', handlerOf('redis', handlerFor(writer)));
      void keyspaceGuard
        .check()
        .catch((err: unknown) => logger.warn({ err }, 'read-model keyspace check failed'));
    }
    if (io.engine && enabled('analytics') && !projectors.some((p) => p.name === 'analytics')) {
      const engine = io.engine;
      const retention = () =>
        applyRetention({
          engine,
          alias: pc.ANALYTICS_ALIAS,
          months: pc.ANALYTICS_RETENTION_MONTHS,
          logger,
        });
      await unlessStopped(retention());
      retentionTimer ??= setInterval(() => {
        retention().catch((err: unknown) => logger.warn({ err }, 'analytics retention failed'));
      }, pc.ANALYTICS_RETENTION_INTERVAL_MS);
      retentionTimer.unref();
      const writer = analyticsWriter({
        engine,
        store: io.store,
        catalog: io.pool,
        config: pc,
        patients: io.patients,
        logger,
      });
      await startProjector('analytics', handlerOf('analytics', handlerFor(writer)));
    }
    if (io.engine && enabled('search') && !projectors.some((p) => p.name === 'search')) {
      await unlessStopped(ensureAppointmentsIndex(io.engine, pc.APPOINTMENTS_ALIAS));
      const writer = searchWriter({
        engine: io.engine,
        store: io.store,
        catalog: io.pool,
        config: pc,
        patients: io.patients,
        logger,
      });
      await startProjector('search', handlerOf('search', handlerFor(writer)));
    }
  }

  const server = await serveWorker({
    registry,
    health,
    port: deps.port ?? c.PORT ?? pc.PROJECTIONS_PORT,
    host: deps.host ?? c.HOST,
    ...((deps.adminPort ?? c.ADMIN_PORT) === undefined ? {} : { adminPort: deps.adminPort ?? c.ADMIN_PORT }),
  }).catch(async (err: unknown) => {
    await broker.close();
    await io.close();
    throw err;
  });
  const ready = boot.retry(startParts).then(() => {
    started = true;
  });
  ready.catch(() => undefined);

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      boot.stop();
      for (const s of lag) s.stop();
      relayWatch?.stop();
      keyspaceGuard?.stop();
      clearInterval(retentionTimer);
      await broker.close();
      await relay?.stop();
      await Promise.all(projectors.map((p) => p.stop()));
      await server.close();
      await io.close();
    })());

  return {
    port: server.port,
    url: server.url,
    adminUrl: server.adminUrl,
    ready,
    get relay() {
      return relay;
    },
    projectors,
    failed,
    health: { live: () => livenessResponse(health), ready: () => readinessResponse(health) },
    stop,
  };
}

async function ensureEventTopics(kafka: Kafka, pc: ProjectionsConfig): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await ensureTopics(admin, [
      { topic: pc.EVENTS_TOPIC, numPartitions: 6, replicationFactor: 1 },
      { topic: pc.EVENTS_DLQ_TOPIC, numPartitions: 1, replicationFactor: 1 },
    ]);
  } finally {
    await admin.disconnect();
  }
}

/** Whether a consumer group has committed any offset on `topic` (it has consumed before). */
async function groupHasCommitted(kafka: Kafka, groupId: string, topic: string): Promise<boolean> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
    return offsets.some((t) => t.partitions.some((p) => Number(p.offset) >= 0));
  } finally {
    await admin.disconnect();
  }
}

async function searchAnswers(engine: SearchEngine | undefined): Promise<void> {
  if (engine && (await engine.health()) === 'red') throw new Error('cluster health is red');
}
