/** Settings of the catalog projection process, next to platform/config.ts and connectors' CATALOG_* ones. */
import { z } from 'zod';
import { parseEnv } from '../../platform/config.ts';
import { catalogReadModelSettings } from '../../read-models/settings.ts';
import { analyticsSettings } from '../analytics/settings.ts';

export const catalogProjectionConfigSchema = z.object({
  /** CATALOG_REDIS_PREFIX, CATALOG_SEARCH_ALIAS: shared with the query API. */
  ...catalogReadModelSettings,
  /** ANALYTICS_ALIAS: where the `analytics` store carries catalog renames (docs/adr/0019). */
  ANALYTICS_ALIAS: analyticsSettings.ANALYTICS_ALIAS,
  /** Consumer groups are `<prefix>-redis`, `<prefix>-search` and `<prefix>-analytics`. */
  CATALOG_GROUP_PREFIX: z.string().min(1).default('catalog'),
  /** /healthz and /metrics of the catalog projection process (0: none). */
  CATALOG_PROJECTIONS_PORT: z.coerce.number().int().min(0).max(65535).default(3004),
  /** `analytics` carries catalog renames into the analytics index's existing documents. */
  CATALOG_STORES: z
    .string()
    .default('redis,search,analytics')
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.enum(['redis', 'search', 'analytics'])).min(1)),
});

export type CatalogProjectionConfig = z.infer<typeof catalogProjectionConfigSchema>;

export function loadCatalogProjectionConfig(
  env: Record<string, string | undefined> = process.env,
): CatalogProjectionConfig {
  const result = parseEnv(catalogProjectionConfigSchema, env);
  if (!result.ok) throw new Error(`invalid catalog projection settings:\n  ${result.errors.join('\n  ')}`);
  return result.config;
}
