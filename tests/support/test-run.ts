/**
 * One test run's namespace. The global setup picks a tag (`t<6 hex>_`) and a database of the
 * run's own; every topic, consumer group, connector, replication slot, index and Redis key a test
 * creates starts with the tag (through `uniqueName`), so the global teardown finds all of it,
 * removes it, and fails the run if anything is left. The platform's own data (`booking`,
 * `booking.events`, `appointments`, `rm:*`…) is never touched.
 */
import { randomBytes } from 'node:crypto';

export const RUN_TAG_ENV = 'TEST_RUN_TAG';

/** Lower-case letters, digits and `_`: valid in topic, slot, index, connector and key names alike. */
export const newRunTag = (): string => `t${randomBytes(3).toString('hex')}_`;

/**
 * The current run's tag. Outside a test run (a benchmark importing `uniqueName`) it is `tx_`, still
 * a prefix no platform name has.
 */
export const runTag = (): string => process.env[RUN_TAG_ENV] ?? 'tx_';

/** The settings every process reads, pointed into the run's namespace (so a default never lands on the platform's data). */
export function runEnvironment(tag: string, databaseUrl: string): Record<string, string> {
  return {
    [RUN_TAG_ENV]: tag,
    DATABASE_URL: databaseUrl,
    EVENTS_TOPIC: `${tag}booking.events`,
    EVENTS_DLQ_TOPIC: `${tag}booking.events.dlq`,
    RELAY_NAME: `${tag}relay`,
    READ_MODEL_PREFIX: `${tag}rm`,
    APPOINTMENTS_ALIAS: `${tag}appointments`,
    ANALYTICS_ALIAS: `${tag}analytics`,
    PROJECTOR_GROUP_PREFIX: `${tag}projections`,
    CATALOG_CONNECTOR_NAME: `${tag}catalog-source`,
    CATALOG_SLOT: `${tag}catalog_slot`,
    CATALOG_PUBLICATION: `${tag}catalog_publication`,
    CATALOG_TOPIC_PREFIX: `${tag}catalog`,
    CATALOG_REDIS_PREFIX: `${tag}catalog:`,
    CATALOG_SEARCH_ALIAS: `${tag}institutions`,
    CATALOG_GROUP_PREFIX: `${tag}catalog`,
    KAFKA_CLIENT_ID: `${tag}tests`,
    FLOW_RULES_KEY: `${tag}flow:rules`,
    BOOKING_REQUESTS_TOPIC: `${tag}booking.requests`,
    REQUEST_PROCESSOR_GROUP: `${tag}requests`,
  };
}

/**
 * Integration files run in a few workers at once (vitest.config.ts). Each worker gets a namespace
 * of its own inside the run's: worker 1 the run's own, worker n the tag `<run tag>w<n>_` and the
 * database `<run tag>w<n>_booking`, so two files running side by side never share a database,
 * topic, group, connector, slot, index or Redis key, just as two files one after the other never
 * did. Everything still starts with the run's tag, so the teardown finds it.
 */
export const workerTag = (tag: string, worker: number): string => (worker <= 1 ? tag : `${tag}w${worker}_`);

/** The database URL of a worker: the run's database with the worker's name in place of the run's. */
export function workerDatabaseUrl(runDatabaseUrl: string, tag: string, worker: number): string {
  const url = new URL(runDatabaseUrl);
  url.pathname = `/${workerTag(tag, worker)}booking`;
  return url.href;
}

/**
 * How many integration workers run side by side (INT_WORKERS, default 3: on 2 cores the files
 * mostly wait on the engines, and a third worker still shortened the run).
 */
export function intWorkers(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env.INT_WORKERS ?? '3');
  return Number.isInteger(n) && n >= 1 && n <= 8 ? n : 3;
}
