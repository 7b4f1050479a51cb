/**
 * The analytics index's settings, shared by the projector that writes it (projections/config.ts)
 * and the catalog projector that carries renames into it (projections/catalog/config.ts).
 */
import { z } from 'zod';

export const analyticsSettings = {
  /** The read alias analysts query; the monthly indices are `<alias>-YYYY-MM` (session month). */
  ANALYTICS_ALIAS: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_.-]*$/)
    .default('analytics'),
  /** Months of sessions kept, the current one included; older monthly indices are deleted. */
  ANALYTICS_RETENTION_MONTHS: z.coerce.number().int().min(1).max(600).default(24),
  /** How often the projector looks for monthly indices past retention. */
  ANALYTICS_RETENTION_INTERVAL_MS: z.coerce.number().int().min(1_000).max(86_400_000).default(3_600_000),
};
