/**
 * Everything a projections integration test needs, with random names: its own topics, relay
 * checkpoint row, consumer groups, Redis key root and index alias, so tests never collide with
 * each other or with a running `npm run projections`.
 */
import { stampSchemaVersion } from '../../domain/event-versions.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import {
  decide,
  fold,
  scheduleStreamName,
  type ScheduleCommand,
  type ScheduleEvent,
} from '../../domain/schedule.ts';
import type { Config } from '../../platform/config.ts';
import { PgEventStore } from '../../platform/event-store/pg-event-store.ts';
import { createKafka, createTopicsWithLeaders } from '../../platform/kafka.ts';
import { createLogger, type Logger } from '../../platform/logger.ts';
import type { Pool } from '../../platform/pg.ts';
import { createRedis, type RedisClient } from '../../platform/redis.ts';
import { rootPrefix } from '../../read-models/bookings.ts';
import { scanKeys, unlinkKeys } from './redis-keys.ts';
import { type SearchEngine, searchFromConfig } from '../../platform/search/index.ts';
import { parseProjectionsConfig, type ProjectionsConfig } from '../../projections/config.ts';
import type { RelayHandle } from '../../projections/relay/relay.ts';
import { encodeCheckpoint } from '../../platform/event-store/pg-event-store.ts';
import type { Checkpoint, RecordedEvent } from '../../platform/event-store/event-store.ts';
import type { ProjectorHandle } from '../../projections/runtime/projector-runtime.ts';
import { startProjections, type ProjectionsHandle } from '../../projections/start.ts';
import { ensureAppointmentsIndex } from '../../projections/wiring.ts';
import { migrateTestDatabase, testPool } from './db.ts';
import { testConfig } from './test-config.ts';
import { uniqueName, waitFor } from './wait.ts';

export interface Harness {
  config: Config;
  pc: ProjectionsConfig;
  /** The same names as environment variables, for a child projections process. */
  env: Record<string, string>;
  pool: Pool;
  store: PgEventStore;
  kafka: Kafka;
  redis: RedisClient;
  engine: SearchEngine;
  logger: Logger;
  /** `startProjections` with only the relay; its stop() stops that whole instance. */
  startRelay(): Promise<RelayHandle>;
  /** `startProjections` with only one projector (joined its group); stop() stops that instance. */
  startProjector(
    kind: 'redis' | 'search',
    overrides?: { groupId?: string; root?: string; topic?: string },
  ): Promise<ProjectorHandle>;
  /** Runs a command through the real decider and appends its events, as the command API does. */
  execute(streamScheduleId: string, command: ScheduleCommand): Promise<ScheduleEvent[]>;
  spawnProjections(env: Record<string, string>): Promise<Child>;
  close(): Promise<void>;
}

export interface Child {
  process: ChildProcess;
  output: () => string;
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

export async function projectionsHarness(): Promise<Harness> {
  await migrateTestDatabase();
  const config = testConfig();
  const logger = createLogger('test', process.env.TEST_LOG_LEVEL ?? 'silent');
  const env: Record<string, string> = {
    EVENTS_TOPIC: uniqueName('test.events'),
    EVENTS_DLQ_TOPIC: uniqueName('test.events.dlq'),
    RELAY_NAME: uniqueName('test-relay'),
    RELAY_START: 'end',
    READ_MODEL_PREFIX: uniqueName('test-rm'),
    APPOINTMENTS_ALIAS: uniqueName('test-appointments'),
    PROJECTOR_GROUP_PREFIX: uniqueName('test-projections'),
    PROJECTIONS_PORT: '0',
  };
  const parsed = parseProjectionsConfig({ ...env, NODE_ENV: 'test' });
  if (!parsed.ok) throw new Error(parsed.errors.join('; '));
  const pc = parsed.config;
  const pool = testPool(10);
  const store = new PgEventStore(pool);
  const kafka = createKafka(config, undefined, uniqueName('test-projections'));
  const redis = createRedis(config, 'test-projections');
  const engine = searchFromConfig(config);
  const admin = kafka.admin();
  await admin.connect();
  await createTopicsWithLeaders(admin, [
    { topic: pc.EVENTS_TOPIC, numPartitions: 6 },
    { topic: pc.EVENTS_DLQ_TOPIC, numPartitions: 1 },
  ]);
  await admin.disconnect();
  await ensureAppointmentsIndex(engine, pc.APPOINTMENTS_ALIAS);

  const stoppers: (() => Promise<void>)[] = [];
  const children: Child[] = [];

  /** One in-process projections instance over the harness's clients and names, on port 0. */
  async function start(
    components: ProjectionsConfig['PROJECTIONS_COMPONENTS'],
    names: Partial<Pick<ProjectionsConfig, 'PROJECTOR_GROUP_PREFIX' | 'READ_MODEL_PREFIX' | 'EVENTS_TOPIC'>>,
    extra: Partial<Parameters<typeof startProjections>[1]> = {},
  ): Promise<ProjectionsHandle> {
    const started = await startProjections(
      {
        platform: config,
        projections: { ...pc, ...names, PROJECTIONS_COMPONENTS: components, RELAY_MAX_IDLE_MS: 50 },
      },
      {
        logger,
        pool,
        kafka,
        redis,
        engine,
        port: 0,
        host: '127.0.0.1',
        projectorRetry: { maxRetries: 1, initialDelayMs: 10, maxDelayMs: 100 },
        ...extra,
      },
    );
    stoppers.push(() => started.stop());
    await started.ready;
    return started;
  }

  return {
    config,
    pc,
    env,
    pool,
    store,
    kafka,
    redis,
    engine,
    logger,
    async startRelay() {
      const started = await start(
        ['relay'],
        {},
        { relayStartFrom: (await latestCheckpoint(pool)) ?? 'beginning' },
      );
      const relay = started.relay;
      if (!relay) throw new Error('the relay did not start');
      return { ...relay, stop: started.stop };
    },
    async startProjector(kind, overrides = {}) {
      const started = await start([kind], {
        ...(overrides.groupId ? { PROJECTOR_GROUP_PREFIX: overrides.groupId } : {}),
        ...(overrides.root ? { READ_MODEL_PREFIX: overrides.root } : {}),
        ...(overrides.topic ? { EVENTS_TOPIC: overrides.topic } : {}),
      });
      const projector = started.projectors[0];
      if (!projector) throw new Error(`the ${kind} projector did not start`);
      await projector.ready;
      return { ...projector, stop: started.stop };
    },
    async execute(scheduleId, command) {
      const stream = scheduleStreamName(scheduleId);
      const recorded = await store.readStream(stream);
      const history = recorded.map((e) => ({ type: e.type, data: e.data }) as ScheduleEvent);
      const decision = decide(command, fold(history));
      if (!decision.ok) throw new Error(`command rejected: ${decision.error.code}`);
      if (decision.events.length === 0) return [];
      await store.appendToStream(
        stream,
        decision.events.map((e) => ({
          type: e.type,
          data: e.data,
          // Stamped with the version written, as the command path does (ADR 0009).
          metadata: stampSchemaVersion(e.type, {
            correlationId: randomUUID(),
            traceparent: `00-${randomUUID().replaceAll('-', '')}-${'1'.repeat(16)}-01`,
          }),
        })),
        recorded.length === 0 ? 'no_stream' : BigInt(recorded.length - 1),
      );
      return decision.events;
    },
    async spawnProjections(extra) {
      const child = spawn(process.execPath, ['--import', 'tsx', 'tests/support/projections-child.ts'], {
        env: { ...process.env, ...env, LOG_LEVEL: 'info', ...extra },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      const handle: Child = {
        process: child,
        output: () => out,
        async kill9() {
          child.kill('SIGKILL');
          await exited;
        },
        async stop() {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          await exited;
        },
      };
      children.push(handle);
      await waitFor(
        () => {
          if (out.includes('"projections ready"')) return true;
          if (child.exitCode !== null) throw new Error(`projections exited early:\n${out}`);
          return undefined;
        },
        { what: 'child projections ready', timeoutMs: 60_000 },
      );
      return handle;
    },
    async close() {
      for (const child of children) await child.stop().catch(() => undefined);
      for (const stop of stoppers.reverse()) await stop().catch(() => undefined);
      const admin2 = kafka.admin();
      await admin2.connect();
      await admin2.deleteTopics({ topics: [pc.EVENTS_TOPIC, pc.EVENTS_DLQ_TOPIC] }).catch(() => undefined);
      await admin2.disconnect();
      for (const index of await engine.aliasTargets(pc.APPOINTMENTS_ALIAS)) await engine.deleteIndex(index);
      await deleteKeys(redis, `${rootPrefix(pc.READ_MODEL_PREFIX)}*`);
      await pool.query('DELETE FROM relay_checkpoints WHERE name = $1', [pc.RELAY_NAME]);
      redis.disconnect();
      await engine.close();
      await pool.end();
    },
  };
}

/**
 * The newest event's checkpoint, ignoring the visibility horizon. Tests start their relay here:
 * their own events come later, and the shared database's older traffic — including a backlog held
 * back by another test's open transaction — is not theirs to publish. (The real relay starts from
 * a checkpoint readAll returned, so it never skips anything.)
 */
export async function latestCheckpoint(pool: Pool): Promise<Checkpoint | undefined> {
  const { rows } = await pool.query<{ xid: string; global_position: string }>(
    'SELECT transaction_id::text AS xid, global_position FROM events ORDER BY transaction_id DESC, global_position DESC LIMIT 1',
  );
  return rows[0] ? encodeCheckpoint(rows[0].xid, rows[0].global_position) : undefined;
}

export async function deleteKeys(redis: RedisClient, pattern: string): Promise<void> {
  await unlinkKeys(redis, await scanKeys(redis, pattern));
}

/** Every key under `root:vN:` with its value, keys relative to the version prefix: for comparing two keyspaces. */
export async function dumpKeyspace(redis: RedisClient, prefix: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const key of await scanKeys(redis, `${prefix}:*`)) {
    const type = await redis.type(key);
    const rel = key.slice(prefix.length);
    if (type === 'hash') out[rel] = await redis.hgetall(key);
    else if (type === 'zset') out[rel] = await redis.zrange(key, 0, -1, 'WITHSCORES');
    else out[rel] = await redis.get(key);
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/**
 * Appends a schedule's events `chunk` at a time from revision `from` (several transactions per
 * stream, as real commands make them), stamped with their schema version; returns them as recorded.
 */
export async function appendInChunks(
  store: PgEventStore,
  stream: string,
  events: readonly ScheduleEvent[],
  chunk = events.length,
  from = 0,
): Promise<RecordedEvent[]> {
  const recorded: RecordedEvent[] = [];
  for (let i = 0; i < events.length; i += chunk) {
    const result = await store.appendToStream(
      stream,
      events
        .slice(i, i + chunk)
        .map((e) => ({ type: e.type, data: e.data, metadata: stampSchemaVersion(e.type, {}) })),
      from + i === 0 ? 'no_stream' : BigInt(from + i - 1),
    );
    recorded.push(...result.events);
  }
  return recorded;
}

/** Events the Redis read model has applied over these schedules (each schedule's rev + 1, 0 if absent). */
export async function appliedEventCount(
  redis: RedisClient,
  schedule: (scheduleId: string) => string,
  scheduleIds: readonly string[],
): Promise<number> {
  const replies = await redis.pipeline(scheduleIds.map((id) => ['hget', schedule(id), 'rev'])).exec();
  return (replies ?? []).reduce((n, [, rev]) => n + (rev === null ? 0 : Number(rev) + 1), 0);
}
