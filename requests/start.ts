/**
 * Starts the request processor (docs/adr/0015): a kafkajs consumer group on BOOKING_REQUESTS_TOPIC
 * whose members share the partitions; each partition's requests are taken in offset order, in
 * chunks of up to REQUEST_BATCH_MAX, and each chunk is decided and committed in one transaction
 * (batch-writer.ts). The consumer's offset is committed only after a chunk's transaction, so a
 * crash redelivers at most what was not yet decided, and what was decided is skipped.
 * Used by main.ts and by the tests alike.
 */
import type { Consumer, EachBatchPayload } from 'kafkajs';
import { patientRuleOptionsOf, slotOptionsOf } from '../command-api/slot-settings.ts';
import { PgPatientBookings } from '../command-api/patient-bookings.ts';
import type { Config } from '../platform/config.ts';
import { requirePostgresEventStore } from '../platform/event-store/index.ts';
import { PgEventStore } from '../platform/event-store/pg-event-store.ts';
import { createKafka, ensureTopics } from '../platform/kafka.ts';
import { sealingReads } from '../platform/legacy-patients.ts';
import { createLogger, type Logger } from '../platform/logger.ts';
import { patientVault } from '../platform/patient-vault.ts';
import { createPool, type Pool } from '../platform/pg.ts';
import { type ChunkItem, createBatchWriter } from './batch-writer.ts';
import { createRegistry, type Registry } from '../platform/http/metrics.ts';
import { kafkaProbe } from '../platform/kafka-probe.ts';
import { serveWorker, type WorkerServer } from '../platform/worker-shell.ts';
import { processorHealth } from './health.ts';
import { groupLagSampler } from './lag-sampler.ts';
import { requestMetrics } from './metrics.ts';
import { sweepPending } from './pending-sweeper.ts';
import { parseBookingRequest } from './request-message.ts';

export interface RequestProcessorOptions {
  config: Config;
  logger?: Logger;
  /** A pool owned by the caller (stop does not end it). */
  pool?: Pool;
  /** Apply pending migrations first. Default true. */
  migrate?: boolean;
  /** Partitions decided at once by this member. Default 3. */
  partitionsConcurrently?: number;
  /** /metrics; default a fresh registry. */
  registry?: Registry;
  /** Public health port (main.ts: REQUEST_PROCESSOR_PORT); 0 picks a free one; absent or null: none (tests, bench). */
  port?: number | null;
  /** Admin port (/metrics, detailed health): default ADMIN_PORT, else port + 1000. */
  adminPort?: number;
  /** Health sampling (Kafka probe, group lag). Defaults 5 s and 2 s. */
  probe?: { intervalMs?: number; timeoutMs?: number };
  /** Requests behind past which the processor reports itself degraded. Default 100,000. */
  lagBudget?: number;
  /** How often requests left pending are swept (pending-sweeper.ts). Default 60 s; 0: never. */
  sweepIntervalMs?: number;
}

export interface RequestProcessorHandle {
  /** Resolves once the consumer joined its group. */
  readonly ready: Promise<void>;
  /** Requests decided (booked or rejected) by this member so far. */
  decided(): number;
  /** The public health port and the admin URL (/metrics), when served. */
  readonly port: number | undefined;
  readonly adminUrl: string | undefined;
  readonly registry: Registry;
  /** Sweeps requests left pending older than RUSH_PENDING_EXPIRE_S now; resolves with how many. */
  sweepNow(): Promise<number>;
  stop(): Promise<void>;
}

export async function startRequestProcessor(opts: RequestProcessorOptions): Promise<RequestProcessorHandle> {
  const { config } = opts;
  requirePostgresEventStore(
    config,
    'the request processor',
    'a batch is decided and committed in one PostgreSQL transaction',
  );
  const logger = opts.logger ?? createLogger('requests', config.LOG_LEVEL);
  if (opts.migrate ?? true) {
    const { migrate } = await import('../infra/migrate.ts');
    await migrate(config.DATABASE_URL, (message) => logger.info(message));
  }
  const pool = opts.pool ?? createPool(config, { applicationName: 'request-processor', logger });
  const store = new PgEventStore(pool);
  const writer = createBatchWriter({
    pool,
    // Streams are read through the vault, as the command API reads them (v1 events reach the decider as v2).
    store: sealingReads(store, patientVault(pool, config)),
    patients: new PgPatientBookings(pool, patientRuleOptionsOf(config)),
    slots: slotOptionsOf(config),
  });
  const topic = config.BOOKING_REQUESTS_TOPIC;
  const kafka = createKafka(config, logger, `${config.KAFKA_CLIENT_ID}-requests`);
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [{ topic, numPartitions: 6, replicationFactor: 1 }]).finally(() =>
    admin.disconnect(),
  );

  const registry = opts.registry ?? createRegistry();
  const metrics = requestMetrics(registry);
  let decided = 0;
  let joinedGroup = false;
  let crashed: string | undefined;
  let stoppingNow = false;
  const consumer: Consumer = kafka.consumer({
    groupId: config.REQUEST_PROCESSOR_GROUP,
    sessionTimeout: 10_000,
    heartbeatInterval: 1_000,
    maxWaitTimeInMs: 50,
  });
  const joined = new Promise<void>((resolve) => {
    consumer.on(consumer.events.GROUP_JOIN, () => {
      joinedGroup = true;
      resolve();
    });
  });
  consumer.on(consumer.events.CRASH, (e) => {
    logger.error({ err: String(e.payload.error), restart: e.payload.restart }, 'consumer crashed');
    if (!e.payload.restart) crashed = String(e.payload.error);
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });

  const eachBatch = async (payload: EachBatchPayload) => {
    const { batch } = payload;
    const items: ChunkItem[] = [];
    const skipped: string[] = [];
    for (const m of batch.messages) {
      const message = parseBookingRequest(m.value);
      if (message) items.push({ offset: m.offset, message });
      else skipped.push(m.offset);
    }
    if (skipped.length > 0)
      logger.warn(
        { partition: batch.partition, offsets: skipped },
        'skipped records that are not booking requests',
      );
    for (let i = 0; i < items.length; i += config.REQUEST_BATCH_MAX) {
      if (!payload.isRunning() || payload.isStale()) return;
      const chunk = items.slice(i, i + config.REQUEST_BATCH_MAX);
      const started = performance.now();
      const result = await writer.decide(batch.topic, batch.partition, chunk);
      decided += result.decided;
      metrics.chunkDecided({
        booked: result.booked,
        rejected: result.decided - result.booked,
        skipped: result.skipped,
        seconds: (performance.now() - started) / 1000,
      });
      logger.debug({ partition: batch.partition, ...result }, 'chunk decided');
      payload.resolveOffset(chunk.at(-1)!.offset);
      await payload.heartbeat();
    }
    if (items.length === 0 && batch.messages.length > 0) payload.resolveOffset(batch.lastOffset());
    await payload.commitOffsetsIfNecessary();
  };
  await consumer.run({
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: opts.partitionsConcurrently ?? 3,
    eachBatch,
  });
  logger.info({ topic, group: config.REQUEST_PROCESSOR_GROUP }, 'request processor running');

  const probe = kafkaProbe(kafka, opts.probe);
  const lag = groupLagSampler(kafka, {
    groupId: config.REQUEST_PROCESSOR_GROUP,
    topic,
    ...opts.probe,
    onSample: (l) => metrics.lag(l.partitions),
  });
  const port = opts.port ?? null;
  const adminPort = opts.adminPort ?? config.ADMIN_PORT;
  const server: WorkerServer | undefined =
    port === null
      ? undefined
      : await serveWorker({
          registry,
          port,
          host: config.HOST,
          ...(adminPort === undefined ? {} : { adminPort }),
          health: processorHealth({
            postgres: () => pool.query('SELECT 1'),
            kafka: probe,
            lag,
            lagBudget: opts.lagBudget ?? 100_000,
            crashed: () => crashed,
            isJoined: () => joinedGroup,
            isStopping: () => stoppingNow,
            details: () => ({ decided, group: config.REQUEST_PROCESSOR_GROUP, topic }),
          }),
        });

  const sweepNow = async () => {
    const removed = await sweepPending(pool, config.RUSH_PENDING_EXPIRE_S);
    metrics.pendingRemoved(removed);
    if (removed > 0) logger.info({ removed }, 'removed booking requests left pending');
    return removed;
  };
  const sweepEvery = opts.sweepIntervalMs ?? 60_000;
  const sweeper =
    sweepEvery > 0
      ? setInterval(() => {
          sweepNow().catch((err: unknown) => logger.warn({ err: String(err) }, 'pending sweep failed'));
        }, sweepEvery).unref()
      : undefined;

  let stopping: Promise<void> | undefined;
  return {
    sweepNow,
    ready: joined,
    decided: () => decided,
    port: server?.port,
    adminUrl: server?.adminUrl,
    registry,
    stop: () =>
      (stopping ??= (async () => {
        stoppingNow = true;
        clearInterval(sweeper);
        await consumer.disconnect();
        await Promise.all([probe.close(), lag.close()]);
        await server?.close();
        if (!opts.pool) await pool.end();
      })()),
  };
}
