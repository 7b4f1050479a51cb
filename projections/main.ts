/**
 * Composition root of the projections process: the relay (event store → Kafka) and the Redis and
 * search projectors (Kafka → read models), with /metrics and /healthz on PROJECTIONS_PORT
 * (default 3003) and a graceful shutdown on SIGTERM/SIGINT.
 *
 *   npm run projections                                  # everything
 *   PROJECTIONS_COMPONENTS=relay npm run projections     # just the relay
 */
import type { Redis } from 'ioredis';
import { loadConfig } from '../platform/config.ts';
import { PgEventStore } from '../platform/event-store/pg-event-store.ts';
import { createKafka, ensureTopics } from '../platform/kafka.ts';
import { createRegistry } from '../platform/http/metrics.ts';
import { createLogger } from '../platform/logger.ts';
import { createPool, type Pool } from '../platform/pg.ts';
import { createRedis } from '../platform/redis.ts';
import { workerShell } from '../platform/worker-shell.ts';
import { type SearchEngine, searchFromConfig } from '../platform/search/index.ts';
import { type Component, groupIdOf, loadProjectionsConfig } from './config.ts';
import { type RelayHandle, startRelay } from './relay/relay.ts';
import { describeError } from './runtime/errors.ts';
import { type ProjectorHandle, runProjector } from './runtime/projector-runtime.ts';
import {
  ensureAppointmentsIndex,
  handlerFor,
  redisWriter,
  searchWriter,
  withAfterWriteDelay,
} from './wiring.ts';

const config = loadConfig();
const pc = loadProjectionsConfig();
const logger = createLogger('projections', config.LOG_LEVEL);
const registry = createRegistry({ defaultMetrics: true, service: 'projections' });

const enabled = (c: Component) => pc.PROJECTIONS_COMPONENTS.includes(c);

const pool: Pool = createPool(config, { applicationName: 'projections', logger });
const store = new PgEventStore(pool);
const kafka = createKafka(config, logger, `${config.KAFKA_CLIENT_ID}-projections`);
let redis: Redis | undefined;
let engine: SearchEngine | undefined;
let relay: RelayHandle | undefined;
const projectors: ProjectorHandle[] = [];

const shell = workerShell({
  logger,
  registry,
  health: async () => {
    const lag: Record<string, number | null> = {};
    if (relay) lag.relay = await relay.lag().catch(() => null);
    for (const p of projectors) lag[p.name] = await p.lag().catch(() => null);
    return { ok: true, body: { components: pc.PROJECTIONS_COMPONENTS, lag } };
  },
  stop: async () => {
    await relay?.stop();
    await Promise.all(projectors.map((p) => p.stop()));
    redis?.disconnect();
    await engine?.close();
    await pool.end();
  },
});

try {
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [
    { topic: pc.EVENTS_TOPIC, numPartitions: 6, replicationFactor: 1 },
    { topic: pc.EVENTS_DLQ_TOPIC, numPartitions: 1, replicationFactor: 1 },
  ]);
  await admin.disconnect();

  if (enabled('relay')) {
    relay = startRelay({
      name: pc.RELAY_NAME,
      store,
      pool,
      databaseUrl: config.DATABASE_URL,
      kafka,
      topic: pc.EVENTS_TOPIC,
      logger,
      batchSize: pc.RELAY_BATCH_SIZE,
      maxIdleMs: pc.RELAY_MAX_IDLE_MS,
      startFrom: pc.RELAY_START,
      registry,
      ...(pc.RELAY_TEST_AFTER_SEND_DELAY_MS > 0
        ? { afterSend: () => new Promise<void>((r) => setTimeout(r, pc.RELAY_TEST_AFTER_SEND_DELAY_MS)) }
        : {}),
    });
    await relay.ready;
  }

  const common = {
    kafka,
    topics: [pc.EVENTS_TOPIC],
    dlqTopic: pc.EVENTS_DLQ_TOPIC,
    logger,
    registry,
    maxBatchSize: pc.PROJECTOR_BATCH_SIZE,
    partitionsConsumedConcurrently: pc.PROJECTOR_PARTITION_CONCURRENCY,
  };
  if (enabled('redis')) {
    redis = createRedis(config, 'projections');
    const writer = redisWriter({ redis, store, config: pc, logger });
    await writer.liveVersion();
    projectors.push(
      await runProjector({
        ...common,
        name: 'redis',
        groupId: groupIdOf(pc, 'redis'),
        handleBatch: withAfterWriteDelay(handlerFor(writer), pc.PROJECTIONS_TEST_AFTER_WRITE_DELAY_MS),
      }),
    );
  }
  if (enabled('search')) {
    engine = searchFromConfig(config);
    await ensureAppointmentsIndex(engine, pc.APPOINTMENTS_ALIAS);
    const writer = searchWriter({ engine, store, catalog: pool, config: pc, logger });
    projectors.push(
      await runProjector({
        ...common,
        name: 'search',
        groupId: groupIdOf(pc, 'search'),
        handleBatch: withAfterWriteDelay(handlerFor(writer), pc.PROJECTIONS_TEST_AFTER_WRITE_DELAY_MS),
      }),
    );
  }
  for (const p of projectors) {
    p.done.catch((err: unknown) => {
      logger.fatal({ projector: p.name, err: describeError(err) }, 'projector crashed for good');
      void shell.shutdown('crash', 1);
    });
  }

  const port = await shell.listen(config.PORT ?? pc.PROJECTIONS_PORT);
  logger.info({ port, components: pc.PROJECTIONS_COMPONENTS, topic: pc.EVENTS_TOPIC }, 'projections ready');
} catch (err) {
  logger.fatal({ err: describeError(err) }, 'projections failed to start');
  await shell.shutdown('startup failure', 1);
}
