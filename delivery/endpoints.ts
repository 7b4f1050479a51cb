/**
 * The institutions' endpoints and signing secrets, re-read every DELIVERY_CONFIG_POLL_MS: a row
 * added, changed or disabled takes effect within one poll, without a restart. The secrets are
 * kept in this process's memory only (docs/adr/0016).
 */
import type { Queryable } from '../platform/pg.ts';

export interface Endpoint {
  institutionId: string;
  url: string;
  enabled: boolean;
  rateLimitPerS: number;
  maxConcurrency: number;
  timeoutMs: number;
  /** Undefined: no secret stored, nothing is sent (a delivery must be verifiable). */
  secret: string | undefined;
}

export async function loadEndpoints(db: Queryable): Promise<Map<string, Endpoint>> {
  const { rows } = await db.query<{
    institution_id: string;
    url: string;
    enabled: boolean;
    rate_limit_per_s: number;
    max_concurrency: number;
    timeout_ms: number;
    secret: string | null;
  }>(
    `SELECT e.institution_id, e.url, e.enabled, e.rate_limit_per_s, e.max_concurrency, e.timeout_ms, k.secret
       FROM institution_endpoints e
       LEFT JOIN delivery_private.institution_signing_secrets k ON k.institution_id = e.institution_id`,
  );
  return new Map(
    rows.map((r) => [
      r.institution_id,
      {
        institutionId: r.institution_id,
        url: r.url,
        enabled: r.enabled,
        rateLimitPerS: r.rate_limit_per_s,
        maxConcurrency: r.max_concurrency,
        timeoutMs: r.timeout_ms,
        secret: r.secret ?? undefined,
      },
    ]),
  );
}

/** The guard of an endpoint must be rebuilt when one of these changed. */
export const guardShapeOf = (e: Endpoint): string => `${e.timeoutMs}/${e.maxConcurrency}`;
