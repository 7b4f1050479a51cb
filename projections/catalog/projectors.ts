/**
 * The catalog CDC projectors on the shared projector runtime (projections/runtime): two consumer
 * groups over the Debezium topics, one per store, so a slow or down search engine never delays
 * Redis (and each store's progress is its own committed offsets).
 *
 *   catalog-redis   all four catalog tables → documents + list indexes (RedisCatalogWriter)
 *   catalog-search  institutions            → the institutions index (SearchCatalogWriter)
 *   catalog-analytics  institutions, departments, doctors → renames carried into the analytics
 *                   documents already written (analytics/catalog-renames.ts; docs/adr/0019)
 *
 * Order: Debezium keys every record by the row's primary key, so all changes of a row are in one
 * partition, in commit order; the runtime hands a handler one partition's messages in order.
 * Idempotency: both writers apply a change only if its LSN is newer than the stored one.
 */
import type { ITopicConfig, Kafka } from 'kafkajs';
import type { RedisClient } from '../../platform/redis.ts';
import type { Registry } from 'prom-client';
import { ensureTopics } from '../../platform/kafka.ts';
import type { Logger } from '../../platform/logger.ts';
import type { SearchEngine } from '../../platform/search/index.ts';
import {
  runProjector,
  type BatchHandler,
  type PoisonMessage,
  type ProjectorHandle,
  type ProjectorMessage,
} from '../runtime/index.ts';
import { propagateCatalogChanges } from '../analytics/catalog-renames.ts';
import { decodeChange, type ChangeEvent } from './change-event.ts';
import { RedisCatalogWriter } from './redis-writer.ts';
import { ensureInstitutionsIndex } from './search-index.ts';
import { SearchCatalogWriter } from './search-writer.ts';
import { CATALOG_TABLES, catalogKeys, type CatalogTable } from '../../read-models/catalog.ts';

export const catalogTopicFor = (topicPrefix: string, table: CatalogTable): string =>
  `${topicPrefix}.public.${table}`;

function tableOf(topic: string): CatalogTable | undefined {
  const table = topic.slice(topic.lastIndexOf('.') + 1);
  return (CATALOG_TABLES as readonly string[]).includes(table) ? (table as CatalogTable) : undefined;
}

interface Decoded {
  events: { event: ChangeEvent; message: ProjectorMessage }[];
  poison: PoisonMessage[];
}

/** Decodes a chunk; tombstones are skipped (the delete event before them did the work). */
function decodeAll(messages: readonly ProjectorMessage[]): Decoded {
  const out: Decoded = { events: [], poison: [] };
  for (const message of messages) {
    try {
      const decoded = decodeChange(message.key, message.value);
      if (decoded.kind === 'change') out.events.push({ event: decoded, message });
    } catch (err) {
      out.poison.push({ message, reason: err instanceof Error ? err.message : String(err) });
    }
  }
  return out;
}

export type CatalogStore = 'redis' | 'search' | 'analytics';

export interface ApplyObserver {
  /** Called after a batch of a table was written, with the events in it (for freshness metrics, tests). */
  (store: 'redis' | 'search', table: CatalogTable, events: readonly ChangeEvent[]): void;
}

export function redisHandler(writer: RedisCatalogWriter, observe?: ApplyObserver): BatchHandler {
  return async (messages) => {
    const table = tableOf(messages[0]?.topic ?? '');
    if (!table) return { poison: messages.map((message) => ({ message, reason: 'not a catalog topic' })) };
    const { events, poison } = decodeAll(messages);
    const changes = events.map((e) => e.event);
    await writer.apply(table, changes);
    observe?.('redis', table, changes);
    return { poison };
  };
}

export function searchHandler(writer: SearchCatalogWriter, observe?: ApplyObserver): BatchHandler {
  return async (messages) => {
    const { events, poison } = decodeAll(messages);
    const changes = events.map((e) => e.event);
    const result = await writer.apply(changes);
    for (const r of result.rejected) {
      // The last message of that id carries the version the engine refused.
      const last = events.filter((e) => e.event.id === r.id).at(-1);
      if (last) poison.push({ message: last.message, reason: r.reason });
    }
    observe?.('search', 'institutions', changes);
    return { poison };
  };
}

/** Carries updates of institutions, departments and doctors into existing analytics documents. */
export function analyticsHandler(search: SearchEngine, alias: string): BatchHandler {
  return async (messages) => {
    const { events, poison } = decodeAll(messages);
    await propagateCatalogChanges(
      search,
      alias,
      events.map((e) => e.event),
    );
    return { poison };
  };
}

export interface CatalogProjectionOptions {
  kafka: Kafka;
  redis: RedisClient;
  search: SearchEngine;
  logger: Logger;
  /** Debezium's topic.prefix (CATALOG_TOPIC_PREFIX). */
  topicPrefix: string;
  /** Prefix of every Redis key written (e.g. `catalog:`). */
  redisPrefix: string;
  /** Alias readers query; the projector writes `<alias>_v<N>`. */
  searchAlias: string;
  /** Consumer group ids are `<groupPrefix>-redis` and `<groupPrefix>-search`. */
  groupPrefix?: string;
  dlqTopic?: string;
  registry?: Registry;
  /**
   * How the connector creates its topics (connectors' `catalogTopicCreation`): missing topics are
   * created the same way at start, so the projector works whether or not the connector has
   * written anything yet (an empty table is a normal state).
   */
  topicCreation: Omit<ITopicConfig, 'topic'>;
  observe?: ApplyObserver;
  /** Which stores to feed (default redis and search). */
  stores?: readonly CatalogStore[];
  /** The analytics read alias renames are carried into (with the `analytics` store). */
  analyticsAlias?: string;
}

export interface CatalogProjection {
  redis?: ProjectorHandle;
  search?: ProjectorHandle;
  analytics?: ProjectorHandle;
  searchIndex: string;
  topics: string[];
  ready: Promise<void>;
  stop(): Promise<void>;
}

export async function startCatalogProjection(opts: CatalogProjectionOptions): Promise<CatalogProjection> {
  const log = opts.logger.child({ component: 'catalog-projection' });
  const stores = opts.stores ?? ['redis', 'search'];
  const groupPrefix = opts.groupPrefix ?? 'catalog';
  const dlqTopic = opts.dlqTopic ?? `${opts.topicPrefix}.projections.dlq`;
  const topics = CATALOG_TABLES.map((t) => catalogTopicFor(opts.topicPrefix, t));
  const institutions = catalogTopicFor(opts.topicPrefix, 'institutions');

  const { index } = await ensureInstitutionsIndex(opts.search, opts.searchAlias);
  const admin = opts.kafka.admin();
  await admin.connect();
  try {
    const created = await ensureTopics(admin, [
      { topic: dlqTopic, numPartitions: 1, replicationFactor: opts.topicCreation.replicationFactor ?? 1 },
      ...topics.map((topic) => ({ ...opts.topicCreation, topic })),
    ]);
    if (created.length) log.info({ created }, 'created catalog topics the connector has not written yet');
  } finally {
    await admin.disconnect();
  }

  const common = {
    kafka: opts.kafka,
    logger: opts.logger,
    dlqTopic,
    fromBeginning: true,
    maxBatchSize: 500,
    // Partitions of different tables do not wait for each other.
    partitionsConsumedConcurrently: 4,
    consumerConfig: { metadataMaxAge: 30_000 },
    ...(opts.registry ? { registry: opts.registry } : {}),
  };
  const handles: ProjectorHandle[] = [];
  const projection: CatalogProjection = {
    searchIndex: index,
    topics,
    ready: Promise.resolve(),
    async stop() {
      await Promise.all(handles.map((h) => h.stop()));
    },
  };
  try {
    if (stores.includes('redis')) {
      const writer = new RedisCatalogWriter(opts.redis, catalogKeys(opts.redisPrefix));
      projection.redis = await runProjector({
        ...common,
        name: `${groupPrefix}-redis`,
        topics,
        handleBatch: redisHandler(writer, opts.observe),
      });
      handles.push(projection.redis);
    }
    if (stores.includes('search')) {
      const writer = new SearchCatalogWriter(opts.search, index);
      projection.search = await runProjector({
        ...common,
        name: `${groupPrefix}-search`,
        topics: [institutions],
        handleBatch: searchHandler(writer, opts.observe),
      });
      handles.push(projection.search);
    }
    if (stores.includes('analytics')) {
      const alias = opts.analyticsAlias ?? 'analytics';
      projection.analytics = await runProjector({
        ...common,
        name: `${groupPrefix}-analytics`,
        topics: (['institutions', 'departments', 'doctors'] as const).map((t) =>
          catalogTopicFor(opts.topicPrefix, t),
        ),
        handleBatch: analyticsHandler(opts.search, alias),
      });
      handles.push(projection.analytics);
    }
  } catch (err) {
    await projection.stop();
    throw err;
  }
  projection.ready = Promise.all(handles.map((h) => h.ready)).then(() => undefined);
  log.info(
    { topics, searchIndex: index, groups: handles.map((h) => h.groupId) },
    'catalog projection started',
  );
  return projection;
}
