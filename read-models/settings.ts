/**
 * The read models' names, one schema for the writers (projections/config.ts,
 * projections/catalog/config.ts) and the reader (query-api/config.ts): each composes the keys it
 * needs, so a renamed prefix or alias means the same thing on both sides, with the same default.
 */
import { z } from 'zod';
import { parseEnv, type EnvResult } from '../platform/config.ts';

export const readModelSettingsSchema = z.object({
  /** Root of the Redis booking read-model keys (`rm:version`, `rm:v{N}:…`, see bookings.ts). */
  READ_MODEL_PREFIX: z.string().min(1).default('rm'),
  /** The alias of the appointments search index. */
  APPOINTMENTS_ALIAS: z.string().min(1).default('appointments'),
  /** Prefix of every Redis key of the catalog read models (see catalog.ts). */
  CATALOG_REDIS_PREFIX: z.string().min(1).default('catalog:'),
  /** The alias search readers query; the projector writes `<alias>_v<N>`. */
  CATALOG_SEARCH_ALIAS: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]*$/)
    .default('institutions'),
});

export type ReadModelSettings = z.infer<typeof readModelSettingsSchema>;

/** The booking read models' names (the event projectors' side). */
export const bookingReadModelSettings = readModelSettingsSchema.pick({
  READ_MODEL_PREFIX: true,
  APPOINTMENTS_ALIAS: true,
}).shape;

/** The catalog read models' names (the CDC projectors' side). */
export const catalogReadModelSettings = readModelSettingsSchema.pick({
  CATALOG_REDIS_PREFIX: true,
  CATALOG_SEARCH_ALIAS: true,
}).shape;

export const parseReadModelSettings = (
  env: Record<string, string | undefined>,
): EnvResult<ReadModelSettings> => parseEnv(readModelSettingsSchema, env);
