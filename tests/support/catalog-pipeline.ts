/**
 * A private catalog CDC pipeline for one test file (or one benchmark run): its own Debezium
 * connector, replication slot, publication and topic prefix, Redis prefix, search alias and
 * consumer groups — all random names — over the shared catalog tables, and a cleanup that
 * removes every one of them.
 */
import type { Kafka } from 'kafkajs';
import pg from 'pg';
import {
  catalogConnector,
  catalogConnectorSettings,
  dropReplication,
  type CatalogConnectorSettings,
} from '../../connectors/catalog-connector.ts';
import { ConnectClient } from '../../connectors/connect-client.ts';
import type { Config } from '../../platform/config.ts';
import { createKafka } from '../../platform/kafka.ts';
import { createLogger, type Logger } from '../../platform/logger.ts';
import { createRedis, type RedisClient } from '../../platform/redis.ts';
import { scanKeys, unlinkKeys } from './redis-keys.ts';
import { searchFromConfig, type SearchEngine } from '../../platform/search/index.ts';
import type { ChangeEvent } from '../../projections/catalog/change-event.ts';
import { loadCatalogProjectionConfig } from '../../projections/catalog/config.ts';
import type { ApplyObserver, CatalogProjection } from '../../projections/catalog/projectors.ts';
import { startCatalogProjections, type CatalogProjectionsHandle } from '../../projections/catalog/start.ts';
import { RedisCatalogWriter } from '../../projections/catalog/redis-writer.ts';
import {
  catalogKeyPrefix,
  catalogKeys,
  type CatalogKeys,
  type CatalogTable,
} from '../../read-models/catalog.ts';
import { uniqueName, waitFor } from './wait.ts';

export interface AppliedEvent {
  store: 'redis' | 'search';
  table: CatalogTable;
  event: ChangeEvent;
  at: number;
}

export interface CatalogPipeline {
  config: Config;
  settings: CatalogConnectorSettings;
  connect: ConnectClient;
  connectorConfig: Record<string, string>;
  db: pg.Client;
  redis: RedisClient;
  search: SearchEngine;
  kafka: Kafka;
  keys: CatalogKeys;
  reader: RedisCatalogWriter;
  alias: string;
  groupPrefix: string;
  /** Every change applied so far, per store, in order (from the projectors' observer hook). */
  applied: AppliedEvent[];
  projection: CatalogProjection | undefined;
  /** Registers the connector (PUT config) and waits until it runs. */
  applyConnector(): Promise<void>;
  startProjection(stores?: readonly ('redis' | 'search')[]): Promise<CatalogProjection>;
  stopProjection(): Promise<void>;
  cleanup(): Promise<void>;
}

export async function createCatalogPipeline(
  config: Config,
  opts: { tag?: string; logger?: Logger; connectorOverrides?: Record<string, string> } = {},
): Promise<CatalogPipeline> {
  // One random name (it starts with the run's tag) from which every name of the pipeline derives.
  const tag = opts.tag ?? 'cdc';
  const base = uniqueName(tag);
  const settings: CatalogConnectorSettings = {
    ...catalogConnectorSettings(config, {}),
    name: `${base}-source`,
    slot: `${base}_slot`,
    publication: `${base}_pub`,
    topicPrefix: base,
    heartbeatMs: 1000,
  };
  const logger = opts.logger ?? createLogger(`${tag}-test`, process.env.LOG_LEVEL ?? 'warn');
  const connect = new ConnectClient(config.KAFKA_CONNECT_URL);
  const { config: connectorConfig } = catalogConnector(settings, opts.connectorOverrides);
  const db = new pg.Client({ connectionString: config.DATABASE_URL, application_name: `${tag}-test` });
  await db.connect();
  const redis = createRedis(config, `${tag}-test`);
  const search = searchFromConfig(config);
  const kafka = createKafka(config, logger, base);
  const redisPrefix = `${base}:`;
  const keys = catalogKeys(redisPrefix);
  const alias = `${base}_institutions`;
  const groupPrefix = base;
  const applied: AppliedEvent[] = [];
  const observe: ApplyObserver = (store, table, events) => {
    const at = Date.now();
    for (const event of events) applied.push({ store, table, event, at });
  };

  let running: CatalogProjectionsHandle | undefined;
  const pipeline: CatalogPipeline = {
    config,
    settings,
    connect,
    connectorConfig,
    db,
    redis,
    search,
    kafka,
    keys,
    reader: new RedisCatalogWriter(redis, keys),
    alias,
    groupPrefix,
    applied,
    projection: undefined,
    async applyConnector() {
      await connect.apply(settings.name, connectorConfig);
      await connect.waitRunning(settings.name, 120_000);
    },
    async startProjection(stores = ['redis', 'search']) {
      // The catalog projection process as main.ts starts it, on this pipeline's names.
      const handle = await startCatalogProjections(
        {
          platform: config,
          catalog: loadCatalogProjectionConfig({
            CATALOG_REDIS_PREFIX: redisPrefix,
            CATALOG_SEARCH_ALIAS: alias,
            CATALOG_GROUP_PREFIX: groupPrefix,
            CATALOG_STORES: stores.join(','),
            CATALOG_PROJECTIONS_PORT: '0',
          }),
          connector: settings,
        },
        { logger, kafka, redis, search, observe },
      );
      running = handle;
      await handle.ready;
      if (!handle.projection) throw new Error('catalog projection ready without its projectors');
      pipeline.projection = handle.projection;
      return handle.projection;
    },
    async stopProjection() {
      await running?.stop();
      running = undefined;
      pipeline.projection = undefined;
    },
    async cleanup() {
      const errors: unknown[] = [];
      const step = async (fn: () => Promise<unknown>) => {
        try {
          await fn();
        } catch (err) {
          errors.push(err);
        }
      };
      await step(() => pipeline.stopProjection());
      await step(() => connect.delete(settings.name));
      await step(() => dropReplication(config.DATABASE_URL, settings.slot, settings.publication, 60_000));
      await step(async () => {
        const admin = kafka.admin();
        await admin.connect();
        try {
          const topics = (await admin.listTopics()).filter(
            (t) =>
              t.startsWith(`${settings.topicPrefix}.`) ||
              t === `__debezium-heartbeat.${settings.topicPrefix}`,
          );
          if (topics.length) await admin.deleteTopics({ topics });
          await admin.deleteGroups([`${groupPrefix}-redis`, `${groupPrefix}-search`]).catch(() => undefined);
        } finally {
          await admin.disconnect();
        }
      });
      await step(async () => {
        for (const index of await search.aliasTargets(alias)) await search.deleteIndex(index);
        await search.deleteIndex(`${alias}_v1`);
      });
      await step(async () => {
        await unlinkKeys(redis, await scanKeys(redis, `${catalogKeyPrefix(redisPrefix)}*`));
      });
      await step(() => search.close());
      redis.disconnect();
      await step(() => db.end());
      if (errors.length) throw new AggregateError(errors, 'catalog pipeline cleanup failed');
    },
  };
  return pipeline;
}

export interface InstitutionInput {
  name: string;
  city: string;
  level?: string;
  type?: string;
  rating?: number | null;
  status?: string;
  alias_names?: string[];
  tags?: string[];
  latitude?: number;
  longitude?: number;
}

/** Inserts an institution with plain SQL and returns its id. */
export async function insertInstitution(db: pg.ClientBase, input: InstitutionInput): Promise<number> {
  const r = await db.query<{ id: string }>(
    `INSERT INTO institutions (name, alias_names, city, district, level, type, tags, rating, latitude, longitude, status)
     VALUES ($1, $2, $3, '测试区', $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
    [
      input.name,
      input.alias_names ?? [],
      input.city,
      input.level ?? '三级甲等',
      input.type ?? '综合医院',
      input.tags ?? [],
      input.rating ?? null,
      input.latitude ?? 39.9,
      input.longitude ?? 116.4,
      input.status ?? 'active',
    ],
  );
  return Number(r.rows[0]?.id);
}

/**
 * Waits until the initial snapshot (the whole catalog, seeded or not) is in the pipeline's Redis
 * and its running projectors have no lag: timings measured while the in-process projectors chew
 * through tens of thousands of snapshot rows would measure that instead.
 */
export async function waitForSnapshotDrained(p: CatalogPipeline, timeoutMs = 180_000): Promise<void> {
  const { rows } = await p.db.query<{ n: string }>(
    `SELECT count(*) AS n FROM institutions WHERE status = 'active'`,
  );
  const active = Number(rows[0]?.n ?? 0);
  await waitFor(async () => ((await p.redis.zcard(p.keys.institutionsAll)) >= active ? true : undefined), {
    timeoutMs,
    intervalMs: 250,
    what: 'the snapshot in Redis',
  });
  for (const projector of [p.projection?.redis, p.projection?.search]) {
    if (!projector) continue;
    await waitFor(async () => ((await projector.lag()) === 0 ? true : undefined), {
      timeoutMs,
      intervalMs: 250,
      what: `the ${projector.name} projector to catch up`,
    });
  }
}
