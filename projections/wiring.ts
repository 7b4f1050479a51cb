/**
 * How the projection parts are put together from engines and config; shared by the composition
 * root (main.ts), the rebuild and DLQ-replay commands, the tests and the benchmark.
 */
import type { RedisClient } from '../platform/redis.ts';
import type { EventStore } from '../platform/event-store/event-store.ts';
import { sealingReads } from '../platform/legacy-patients.ts';
import type { ProjectorPatients } from '../platform/patient-vault.ts';
import type { Logger } from '../platform/logger.ts';
import type { Queryable } from '../platform/pg.ts';
import type { SearchEngine } from '../platform/search/index.ts';
import type { ProjectionsConfig } from './config.ts';
import { RedisReadModelWriter, type StreamHistory } from './redis/redis-writer.ts';
import { AnalyticsWriter } from './analytics/analytics-writer.ts';
import { pgCatalogLookup } from './analytics/catalog-lookup.ts';
import { eventProjectionHandler } from './event-projection-handler.ts';
import {
  appointmentsIndexDefinition,
  indexVersion,
  versionedIndexName,
} from './search/appointments-model.ts';
import { catalogNames, idsOnly, type NameResolver } from './search/names.ts';
import { AppointmentsSearchWriter } from './search/search-writer.ts';
import type { BatchHandler } from './runtime/projector-runtime.ts';

export const projectorNames = ['redis', 'search'] as const;
/** `analytics` is not replayable from the DLQ by dlq-replay.ts yet (docs/adr/0019). */
export type ProjectorName = (typeof projectorNames)[number] | 'analytics';

/** The store's streams as the writers read them: v1 records lifted to v2 when a vault is given. */
export const historyOf = (
  store: Pick<EventStore<unknown>, 'readStream'>,
  patients?: ProjectorPatients,
): StreamHistory => {
  const reader = patients ? sealingReads(store, patients) : store;
  return { readStream: (streamId, opts) => reader.readStream(streamId, opts) };
};

export function redisWriter(deps: {
  redis: RedisClient;
  store?: Pick<EventStore<unknown>, 'readStream'>;
  config: Pick<ProjectionsConfig, 'READ_MODEL_PREFIX'>;
  patients?: ProjectorPatients;
  /** The live projector's writer: waits for a lost keyspace's rebuild (RedisWriterOptions). */
  requireEpoch?: boolean;
  logger: Logger;
}): RedisReadModelWriter {
  return new RedisReadModelWriter({
    redis: deps.redis,
    root: deps.config.READ_MODEL_PREFIX,
    ...(deps.store ? { history: historyOf(deps.store, deps.patients) } : {}),
    ...(deps.patients ? { patients: deps.patients } : {}),
    ...(deps.requireEpoch ? { requireEpoch: true } : {}),
    logger: deps.logger,
  });
}

/**
 * Makes sure the alias exists and points at a versioned index (creating `<alias>_v1` on first
 * start). Returns the index the alias points at.
 */
export async function ensureAppointmentsIndex(engine: SearchEngine, alias: string): Promise<string> {
  const targets = await engine.aliasTargets(alias);
  if (targets[0]) return targets[0];
  const index = versionedIndexName(alias, 1);
  await engine.createIndex(index, appointmentsIndexDefinition);
  await engine.swapAlias(alias, index);
  return index;
}

/** The next free versioned index name for a rebuild (one above every existing version). */
export async function nextAppointmentsIndex(engine: SearchEngine, alias: string): Promise<string> {
  const current = await engine.aliasTargets(alias);
  let version = Math.max(0, ...current.map((i) => indexVersion(alias, i) ?? 0)) + 1;
  while (await engine.indexExists(versionedIndexName(alias, version))) version += 1;
  return versionedIndexName(alias, version);
}

export function searchWriter(deps: {
  engine: SearchEngine;
  store: Pick<EventStore<unknown>, 'readStream'>;
  catalog?: Queryable;
  names?: NameResolver;
  config: Pick<ProjectionsConfig, 'APPOINTMENTS_ALIAS'>;
  patients: ProjectorPatients;
  logger: Logger;
  target?: string;
}): AppointmentsSearchWriter {
  return new AppointmentsSearchWriter({
    engine: deps.engine,
    target: deps.target ?? deps.config.APPOINTMENTS_ALIAS,
    history: historyOf(deps.store, deps.patients),
    names: deps.names ?? (deps.catalog ? catalogNames(deps.catalog, { logger: deps.logger }) : idsOnly),
    patients: deps.patients,
    logger: deps.logger,
  });
}

/** The analysts' monthly indices, with catalog facts from the PostgreSQL catalog tables (ADR 0019). */
export function analyticsWriter(deps: {
  engine: SearchEngine;
  store: Pick<EventStore<unknown>, 'readStream'>;
  catalog: Queryable;
  config: Pick<ProjectionsConfig, 'ANALYTICS_ALIAS' | 'ANALYTICS_RETENTION_MONTHS'>;
  patients: ProjectorPatients;
  logger: Logger;
}): AnalyticsWriter {
  return new AnalyticsWriter({
    engine: deps.engine,
    alias: deps.config.ANALYTICS_ALIAS,
    history: historyOf(deps.store, deps.patients),
    catalog: pgCatalogLookup(deps.catalog, { logger: deps.logger }),
    patients: deps.patients,
    retentionMonths: deps.config.ANALYTICS_RETENTION_MONTHS,
    logger: deps.logger,
  });
}

export function handlerFor(
  writer: RedisReadModelWriter | AppointmentsSearchWriter | AnalyticsWriter,
): BatchHandler {
  return eventProjectionHandler(writer);
}
