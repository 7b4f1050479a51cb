/** Settings of the query API, next to platform/config.ts's (ports, Redis, search). */
import { z } from 'zod';
import { CONTENT_TABS } from '../infra/seed/data.ts';
import { parseEnv, type EnvResult } from '../platform/config.ts';
import { readModelSettingsSchema } from '../read-models/settings.ts';

const tabs = (fallback: readonly string[]) =>
  z
    .string()
    .default(fallback.join(','))
    .transform((s) =>
      s
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().min(1)).min(1));

export const queryApiConfigSchema = z.object({
  /** Where the read models are: the names the projectors write under, same keys and defaults. */
  ...readModelSettingsSchema.shape,
  /** Bytes of response bodies kept in process. */
  QUERY_L1_MAX_MB: z.coerce.number().int().min(1).max(4096).default(64),
  /** After this, an entry is served while one background load refreshes it. */
  QUERY_L1_TTL_MS: z.coerce.number().int().min(10).max(600_000).default(5_000),
  /** The same for pages built from Redis keys alone (all but the homepage): invalidation keeps them fresh. */
  QUERY_L1_KEYED_TTL_MS: z.coerce.number().int().min(10).max(3_600_000).default(60_000),
  /** Oldest copy served while Redis is down. */
  QUERY_L1_MAX_STALE_MS: z.coerce.number().int().min(1000).default(600_000),
  /** Bound on the read-your-writes wait. */
  QUERY_RYW_TIMEOUT_MS: z.coerce.number().int().min(0).max(10_000).default(2_000),
  /** Read-your-writes waits one client (principal, else address) holds at once; past it: no wait, marked stale. */
  QUERY_RYW_WAITS_PER_CLIENT: z.coerce.number().int().min(1).max(1_000).default(8),
  /** Per Redis command: past it the request fails over to the in-process copy or a 503. */
  QUERY_REDIS_TIMEOUT_MS: z.coerce.number().int().min(5).max(5_000).default(80),
  /** How long a search result is served from memory (changes to its institutions evict it sooner). */
  QUERY_SEARCH_TTL_MS: z.coerce.number().int().min(10).max(600_000).default(5_000),
  /** A search result loaded this soon after a change to its institutions is kept only this long. */
  QUERY_SEARCH_SETTLE_MS: z.coerce.number().int().min(10).max(60_000).default(2_000),
  HOMEPAGE_BANNER_TAB: z
    .string()
    .min(1)
    .default(CONTENT_TABS.banner[0] ?? '首页'),
  HOMEPAGE_VIDEO_TABS: tabs(CONTENT_TABS.video),
  HOMEPAGE_SCIENCE_TABS: tabs(CONTENT_TABS.article),
  HOMEPAGE_FEATURED: z.coerce.number().int().min(1).max(50).default(8),
  HOMEPAGE_HOT_DEPARTMENTS: z.coerce.number().int().min(1).max(50).default(10),
});

export type QueryApiConfig = z.infer<typeof queryApiConfigSchema>;

export const parseQueryApiConfig = (env: Record<string, string | undefined>): EnvResult<QueryApiConfig> =>
  parseEnv(queryApiConfigSchema, env);
