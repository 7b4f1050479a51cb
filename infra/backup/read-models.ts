/**
 * After a restore every read model is ahead of the store (it saw events the restore gave up), so
 * each is rebuilt from the restored store with the projections' own rebuild (projections/rebuild.ts:
 * a new Redis keyspace version, a new appointments index behind the alias), then counted against
 * the store: one schedule hash per opened schedule, one appointment hash and one search document
 * per booking.
 */
import { scanBatches, scanKeys, type RedisClient } from '../../platform/redis.ts';
import type { Kafka } from 'kafkajs';
import type { PgEventStore } from '../../platform/event-store/pg-event-store.ts';
import type { Logger } from '../../platform/logger.ts';
import type { Pool } from '../../platform/pg.ts';
import type { SearchEngine } from '../../platform/search/index.ts';
import type { ProjectionsConfig } from '../../projections/config.ts';
import { rebuildRedis, rebuildSearch, type RebuildResult } from '../../projections/rebuild.ts';
import { keyspace, rootPrefix, versionKey } from '../../read-models/bookings.ts';

export interface ReadModelDeps {
  pool: Pool;
  store: PgEventStore;
  kafka: Kafka;
  redis: RedisClient;
  engine: SearchEngine;
  config: ProjectionsConfig;
  logger: Logger;
}

export interface Counts {
  schedules: number;
  appointments: number;
}

export interface RebuildReport {
  redis: RebuildResult & { ms: number };
  search: RebuildResult & { ms: number };
  store: Counts;
  redisCounts: Counts;
  searchDocuments: number;
  ok: boolean;
}

export async function storeCounts(pool: Pool): Promise<Counts> {
  const { rows } = await pool.query<{ s: string; a: string }>(
    `SELECT count(*) FILTER (WHERE event_type = 'ScheduleOpened')::text AS s,
            count(*) FILTER (WHERE event_type = 'AppointmentBooked')::text AS a FROM events`,
  );
  return { schedules: Number(rows[0]!.s), appointments: Number(rows[0]!.a) };
}

/** Documents are hashes: `schedule:*` also matches a schedule's day-list zset (`schedule:{id}:appointments`). */
async function countKeys(redis: RedisClient, pattern: string): Promise<number> {
  return (await scanKeys(redis, pattern, { type: 'hash' })).length;
}

async function timed<T>(fn: () => Promise<T>): Promise<T & { ms: number }> {
  const started = performance.now();
  const result = await fn();
  return { ...result, ms: performance.now() - started };
}

export async function rebuildReadModels(deps: ReadModelDeps): Promise<RebuildReport> {
  const base = {
    store: deps.store,
    pool: deps.pool,
    kafka: deps.kafka,
    config: deps.config,
    logger: deps.logger,
  };
  const redis = await timed(() => rebuildRedis({ ...base, redis: deps.redis, batchSize: 2000 }));
  const search = await timed(() => rebuildSearch({ ...base, engine: deps.engine, batchSize: 2000 }));
  const store = await storeCounts(deps.pool);
  const live = Number(await deps.redis.get(versionKey(deps.config.READ_MODEL_PREFIX)));
  const keys = keyspace(deps.config.READ_MODEL_PREFIX, live);
  const redisCounts = {
    schedules: await countKeys(deps.redis, keys.schedule('*')),
    appointments: await countKeys(deps.redis, keys.appointment('*')),
  };
  const alias = deps.config.APPOINTMENTS_ALIAS;
  await deps.engine.refresh(alias);
  const searchDocuments = await deps.engine.count(alias);
  const ok =
    redisCounts.schedules === store.schedules &&
    redisCounts.appointments === store.appointments &&
    searchDocuments === store.appointments;
  return { redis, search, store, redisCounts, searchDocuments, ok };
}

/** Removes every key under the read-model root and every index behind the alias. */
export async function dropReadModels(
  deps: Pick<ReadModelDeps, 'redis' | 'engine' | 'config'>,
): Promise<void> {
  for await (const keys of scanBatches(deps.redis, `${rootPrefix(deps.config.READ_MODEL_PREFIX)}*`))
    await deps.redis.unlink(...keys);
  for (const index of await deps.engine.aliasTargets(deps.config.APPOINTMENTS_ALIAS))
    await deps.engine.deleteIndex(index);
  // An index named after the alias's pattern but no longer behind it (an interrupted rebuild).
  for (const suffix of ['_v1', '_v2', '_v3'])
    if (await deps.engine.indexExists(`${deps.config.APPOINTMENTS_ALIAS}${suffix}`))
      await deps.engine.deleteIndex(`${deps.config.APPOINTMENTS_ALIAS}${suffix}`);
}
