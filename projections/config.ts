/**
 * Settings of the projections process (relay + projectors), read from the environment next to
 * platform/config.ts's. Topic, key prefix and index names are injectable so tests (and a second
 * environment on the same engines) never collide.
 */
import { z } from 'zod';
import { loadEnv, parseEnv, type EnvResult } from '../platform/config.ts';
import { bookingReadModelSettings } from '../read-models/settings.ts';
import { analyticsSettings } from './analytics/settings.ts';

export const components = ['relay', 'redis', 'search', 'analytics'] as const;
export type Component = (typeof components)[number];
/** All four by default; a process that should run fewer (a scaled-out relay standby, a test) names them. */
const defaultComponents: readonly Component[] = ['relay', 'redis', 'search', 'analytics'];

const int = (fallback: number, min = 1, max = 1_000_000) =>
  z.coerce.number().int().min(min).max(max).default(fallback);

export const projectionsConfigSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  PROJECTIONS_PORT: int(3003, 0, 65535),
  /** Which parts this process runs, e.g. `relay` or `redis,search,analytics`. */
  PROJECTIONS_COMPONENTS: z
    .string()
    .default(defaultComponents.join(','))
    .transform((s) =>
      s
        .split(',')
        .map((c) => c.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.enum(components)).min(1)),
  EVENTS_TOPIC: z.string().min(1).default('booking.events'),
  EVENTS_DLQ_TOPIC: z.string().min(1).default('booking.events.dlq'),
  /** Checkpoint row of the relay in relay_checkpoints. */
  RELAY_NAME: z.string().min(1).default('booking.events'),
  RELAY_BATCH_SIZE: int(500, 1, 10_000),
  RELAY_MAX_IDLE_MS: int(100, 1, 10_000),
  /** Where a relay without a checkpoint starts: the beginning of the log, or its current end. */
  RELAY_START: z.enum(['beginning', 'end']).default('beginning'),
  /** A transaction holding the relay back longer than this makes the process degraded (ADR 0002). */
  RELAY_HELD_BACK_BUDGET_SECONDS: int(10, 1, 3_600),
  /** How often the Redis projector checks that its read model was not lost (epoch marker). */
  READ_MODEL_CHECK_INTERVAL_MS: int(5_000, 100, 600_000),
  /** READ_MODEL_PREFIX, APPOINTMENTS_ALIAS: shared with the query API. */
  ...bookingReadModelSettings,
  /** ANALYTICS_ALIAS, ANALYTICS_RETENTION_MONTHS, ANALYTICS_RETENTION_INTERVAL_MS. */
  ...analyticsSettings,
  /** Consumer groups are `<prefix>.redis`, `<prefix>.search` and `<prefix>.analytics`. */
  PROJECTOR_GROUP_PREFIX: z.string().min(1).default('projections'),
  /**
   * Most events per handler call: one Redis read + one pipeline of guarded scripts, or one `_bulk`
   * request, per chunk. A fetched partition batch (PROJECTOR_FETCH_BYTES_PER_PARTITION, ~3,700
   * events of `booking.events` at 4 MiB) is one chunk: per-request costs (round trips, a bulk
   * request's fixed cost in the engine) are paid once per ~4,000 events, not once per 1,000.
   */
  PROJECTOR_BATCH_SIZE: int(5000, 1, 100_000),
  PROJECTOR_PARTITION_CONCURRENCY: int(3, 1, 64),
  /**
   * kafkajs `maxBytesPerPartition` of the projectors' fetches (kafkajs default 1 MiB, ~900 events);
   * the fetch's `maxBytes` is six partitions' worth. Freshness is untouched: a fetch still returns
   * as soon as one record is there (minBytes 1).
   */
  PROJECTOR_FETCH_BYTES_PER_PARTITION: int(4 * 1024 * 1024, 64 * 1024, 64 * 1024 * 1024),
  // The search index's pseudonyms derive from each patient's data key (PATIENT_KEK wraps it,
  // platform/config.ts; docs/adr/0010): there is no pseudonym secret any more.
});

export type ProjectionsConfig = z.infer<typeof projectionsConfigSchema>;

export const parseProjectionsConfig = (
  env: Record<string, string | undefined>,
): EnvResult<ProjectionsConfig> => parseEnv(projectionsConfigSchema, env);

export const loadProjectionsConfig = (
  env: Record<string, string | undefined> = process.env,
): ProjectionsConfig => loadEnv(projectionsConfigSchema, env);

export const groupIdOf = (
  config: Pick<ProjectionsConfig, 'PROJECTOR_GROUP_PREFIX'>,
  projector: string,
): string => `${config.PROJECTOR_GROUP_PREFIX}.${projector}`;
