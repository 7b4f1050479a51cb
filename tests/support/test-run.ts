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
