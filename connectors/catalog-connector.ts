/**
 * The catalog source connector: `catalog-source.json` with its `${...}` placeholders filled from
 * the platform config (DATABASE_URL) and the CATALOG_* environment variables below.
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { z } from 'zod';
import { parseEnv, type Config } from '../platform/config.ts';

export const CATALOG_TEMPLATE_URL = new URL('./catalog-source.json', import.meta.url);

/** Debezium's placeholder for an unchanged TOASTed column it could not read (set explicitly in the JSON). */
export const UNAVAILABLE_VALUE = '__debezium_unavailable_value';

const identifier = z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'lower-case letters, digits and _ (≤ 63)');

const catalogEnvSchema = z.object({
  CATALOG_CONNECTOR_NAME: z.string().min(1).default('catalog-source'),
  CATALOG_SLOT: identifier.default('catalog_slot'),
  CATALOG_PUBLICATION: identifier.default('catalog_publication'),
  CATALOG_TOPIC_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9._-]+$/)
    .default('catalog'),
  CATALOG_TOPIC_PARTITIONS: z.coerce.number().int().min(1).max(64).default(3),
  CATALOG_TOPIC_REPLICATION_FACTOR: z.coerce.number().int().min(1).max(5).default(1),
  CATALOG_HEARTBEAT_MS: z.coerce.number().int().min(100).default(5000),
  /** The database as the Connect worker reaches it, when that differs from DATABASE_URL (containers). */
  CATALOG_DB_HOST: z.string().min(1).optional(),
  CATALOG_DB_PORT: z.coerce.number().int().min(1).max(65535).optional(),
});

export interface CatalogConnectorSettings {
  name: string;
  slot: string;
  publication: string;
  topicPrefix: string;
  partitions: number;
  replicationFactor: number;
  heartbeatMs: number;
  databaseUrl: string;
  dbHost?: string;
  dbPort?: number;
}

export function catalogConnectorSettings(
  config: Pick<Config, 'DATABASE_URL'>,
  env: Record<string, string | undefined> = process.env,
): CatalogConnectorSettings {
  const result = parseEnv(catalogEnvSchema, env);
  if (!result.ok) throw new Error(`invalid catalog connector settings:\n  ${result.errors.join('\n  ')}`);
  const e = result.config;
  return {
    name: e.CATALOG_CONNECTOR_NAME,
    slot: e.CATALOG_SLOT,
    publication: e.CATALOG_PUBLICATION,
    topicPrefix: e.CATALOG_TOPIC_PREFIX,
    partitions: e.CATALOG_TOPIC_PARTITIONS,
    replicationFactor: e.CATALOG_TOPIC_REPLICATION_FACTOR,
    heartbeatMs: e.CATALOG_HEARTBEAT_MS,
    databaseUrl: config.DATABASE_URL,
    ...(e.CATALOG_DB_HOST ? { dbHost: e.CATALOG_DB_HOST } : {}),
    ...(e.CATALOG_DB_PORT ? { dbPort: e.CATALOG_DB_PORT } : {}),
  };
}

export interface ConnectorDefinition {
  name: string;
  config: Record<string, string>;
}

/** Pure: replaces every `${NAME}` in the template's strings; an unknown name is an error. */
export function renderTemplate(
  template: ConnectorDefinition,
  vars: Record<string, string>,
): ConnectorDefinition {
  const missing = new Set<string>();
  const fill = (s: string) =>
    s.replace(/\$\{([A-Z0-9_]+)\}/g, (_, key: string) => {
      const value = vars[key];
      if (value === undefined) missing.add(key);
      return value ?? '';
    });
  const rendered = {
    name: fill(template.name),
    config: Object.fromEntries(Object.entries(template.config).map(([k, v]) => [k, fill(v)])),
  };
  if (missing.size > 0) throw new Error(`connector template needs ${[...missing].join(', ')}`);
  return rendered;
}

export function templateVars(s: CatalogConnectorSettings): Record<string, string> {
  const url = new URL(s.databaseUrl);
  return {
    CONNECTOR_NAME: s.name,
    DB_HOST: s.dbHost ?? url.hostname,
    DB_PORT: String(s.dbPort ?? (url.port || '5432')),
    DB_USER: decodeURIComponent(url.username),
    DB_PASSWORD: decodeURIComponent(url.password),
    DB_NAME: decodeURIComponent(url.pathname.slice(1)),
    TOPIC_PREFIX: s.topicPrefix,
    SLOT_NAME: s.slot,
    PUBLICATION_NAME: s.publication,
    HEARTBEAT_MS: String(s.heartbeatMs),
    PARTITIONS: String(s.partitions),
    REPLICATION_FACTOR: String(s.replicationFactor),
  };
}

export function readCatalogTemplate(): ConnectorDefinition {
  return JSON.parse(readFileSync(CATALOG_TEMPLATE_URL, 'utf8')) as ConnectorDefinition;
}

/** The rendered connector, ready for `ConnectClient.apply(name, config)`. */
export function catalogConnector(
  settings: CatalogConnectorSettings,
  overrides: Record<string, string> = {},
): ConnectorDefinition {
  const rendered = renderTemplate(readCatalogTemplate(), templateVars(settings));
  return { name: rendered.name, config: { ...rendered.config, ...overrides } };
}

export interface TopicCreation {
  numPartitions: number;
  replicationFactor: number;
  configEntries: { name: string; value: string }[];
}

/**
 * How the connector creates its topics (its `topic.creation.default.*` settings), so a consumer
 * can create them the same way before the connector has written anything: an empty table
 * produces no record, and Debezium only creates a table's topic with its first record.
 */
export function catalogTopicCreation(connectorConfig: Record<string, string>): TopicCreation {
  const prefix = 'topic.creation.default.';
  const settings = Object.entries(connectorConfig)
    .filter(([key]) => key.startsWith(prefix))
    .map(([key, value]) => ({ name: key.slice(prefix.length), value }));
  const number = (name: string) => Number(settings.find((s) => s.name === name)?.value ?? 1);
  return {
    numPartitions: number('partitions'),
    replicationFactor: number('replication.factor'),
    configEntries: settings.filter((s) => s.name !== 'partitions' && s.name !== 'replication.factor'),
  };
}

/** The topic Debezium writes for a table: `<prefix>.<schema>.<table>`. */
export const catalogTopic = (topicPrefix: string, table: string, schema = 'public'): string =>
  `${topicPrefix}.${schema}.${table}`;

/**
 * After the connector is deleted: waits until its task has released the replication slot, drops
 * the slot (so the database stops retaining WAL for it), the publication and its heartbeat row.
 */
export async function dropReplication(
  databaseUrl: string,
  slot: string,
  publication: string,
  timeoutMs = 30_000,
): Promise<void> {
  const db = new pg.Client({ connectionString: databaseUrl, application_name: 'connectors' });
  await db.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await db.query<{ active: boolean }>(
        'SELECT active FROM pg_replication_slots WHERE slot_name = $1',
        [slot],
      );
      if (r.rowCount === 0) break;
      if (!r.rows[0]?.active) {
        await db.query('SELECT pg_drop_replication_slot($1)', [slot]);
        break;
      }
      if (Date.now() > deadline)
        throw new Error(`replication slot ${slot} still active after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    await db.query(`DROP PUBLICATION IF EXISTS ${pg.escapeIdentifier(publication)}`);
    await db.query('DELETE FROM catalog_heartbeat WHERE slot_name = $1', [slot]);
  } finally {
    await db.end();
  }
}

export interface SlotState {
  slot: string;
  active: boolean;
  /** Bytes of WAL the database keeps for this slot (what the connector has not confirmed). */
  retainedBytes: number;
  confirmedFlushLsn: string | null;
}

export async function slotState(databaseUrl: string, slot: string): Promise<SlotState | null> {
  const db = new pg.Client({ connectionString: databaseUrl, application_name: 'connectors' });
  await db.connect();
  try {
    const r = await db.query<{ active: boolean; retained: string | null; confirmed: string | null }>(
      `SELECT active, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::text AS retained,
              confirmed_flush_lsn::text AS confirmed
         FROM pg_replication_slots WHERE slot_name = $1`,
      [slot],
    );
    const row = r.rows[0];
    if (!row) return null;
    return {
      slot,
      active: row.active,
      retainedBytes: Number(row.retained ?? 0),
      confirmedFlushLsn: row.confirmed,
    };
  } finally {
    await db.end();
  }
}
