/**
 * Composition root of the projections process: the relay (event store → Kafka) and the Redis and
 * search projectors (Kafka → read models), with /metrics and /healthz on PROJECTIONS_PORT
 * (default 3003) and a graceful shutdown on SIGTERM/SIGINT.
 *
 *   npm run projections                                  # everything
 *   PROJECTIONS_COMPONENTS=relay npm run projections     # just the relay
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { loadConfig } from '../platform/config.ts';
import { PgEventStore } from '../platform/event-store/pg-event-store.ts';
import { createKafka, ensureTopics } from '../platform/kafka.ts';
import { createLogger } from '../platform/logger.ts';
import { createPool, type Pool } from '../platform/pg.ts';
import { createRedis } from '../platform/redis.ts';
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
const registry = new Registry();
registry.setDefaultLabels({ service: 'projections' });
collectDefaultMetrics({ register: registry });

const enabled = (c: Component) => pc.PROJECTIONS_COMPONENTS.includes(c);

const pool: Pool = createPool(config, { applicationName: 'projections', logger });
const store = new PgEventStore(pool);
const kafka = createKafka(config, logger, `${config.KAFKA_CLIENT_ID}-projections`);
let redis: Redis | undefined;
let engine: SearchEngine | undefined;
let relay: RelayHandle | undefined;
const projectors: ProjectorHandle[] = [];
let server: Server | undefined;
let shuttingDown = false;

async function shutdown(signal: string, code = 0): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  logger.info({ signal }, 'shutting down');
  const timer = setTimeout(() => {
    logger.error('shutdown took too long: exiting');
    process.exit(1);
  }, 20_000);
  timer.unref();
  try {
    await relay?.stop();
    await Promise.all(projectors.map((p) => p.stop()));
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    redis?.disconnect();
    await engine?.close();
    await pool.end();
  } catch (err) {
    logger.error({ err: describeError(err) }, 'error during shutdown');
    code = code || 1;
  }
  logger.info('stopped');
  process.exit(code);
}

process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

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
      void shutdown('crash', 1);
    });
  }

  server = createServer((req, res) => {
    void (async () => {
      if (req.url === '/metrics') {
        res.setHeader('Content-Type', registry.contentType);
        res.end(await registry.metrics());
      } else if (req.url === '/healthz') {
        const lags: Record<string, number | null> = {};
        if (relay) lags.relay = await relay.lag().catch(() => null);
        for (const p of projectors) lags[p.name] = await p.lag().catch(() => null);
        res.setHeader('Content-Type', 'application/json');
        res.statusCode = shuttingDown ? 503 : 200;
        res.end(
          JSON.stringify({
            status: shuttingDown ? 'stopping' : 'ok',
            components: pc.PROJECTIONS_COMPONENTS,
            lag: lags,
          }),
        );
      } else {
        res.statusCode = 404;
        res.end();
      }
    })().catch((err: unknown) => {
      res.statusCode = 500;
      res.end(describeError(err));
    });
  });
  await new Promise<void>((resolve) => server!.listen(config.PORT ?? pc.PROJECTIONS_PORT, resolve));
  const { port } = server.address() as AddressInfo;
  logger.info({ port, components: pc.PROJECTIONS_COMPONENTS, topic: pc.EVENTS_TOPIC }, 'projections ready');
} catch (err) {
  logger.fatal({ err: describeError(err) }, 'projections failed to start');
  await shutdown('startup failure', 1);
}
