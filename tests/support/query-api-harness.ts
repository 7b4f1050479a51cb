import { createQueryApiClient, type QueryApiClient } from '../../clients/index.ts';
import { parseQueryApiConfig, type QueryApiConfig } from '../../query-api/config.ts';
import { startQueryApi } from '../../query-api/start.ts';
import type { QueryApi } from '../../query-api/app.ts';
import type { Config } from '../../platform/config.ts';
import type { FlowRules } from '../../platform/flow/rules.ts';
import { createLogger } from '../../platform/logger.ts';

export interface QueryInstance {
  api: QueryApi;
  baseUrl: string;
  /** The typed client of clients/ (what our users call the API with). */
  client: QueryApiClient;
  /** Raw HTTP, for what a typed client does not express (bad parameters, validators, encodings). */
  get(path: string, headers?: Record<string, string>): Promise<Response>;
  /** The admin listener: /metrics and the detailed health. */
  adminGet(path: string): Promise<Response>;
  close(): Promise<void>;
}

/** One query-api instance on port 0 (`startQueryApi`, as main.ts runs it) with the test's names. */
export async function startQueryInstance(
  config: Config,
  opts: {
    catalogPrefix: string;
    searchAlias: string;
    readModelRoot: string;
    redisUrl?: string;
    jwtSecret?: string;
    queryConfig?: Partial<QueryApiConfig>;
    /** Inbound flow rules of this instance (default: platform/flow/default-rules.ts). */
    flowRules?: FlowRules;
  },
): Promise<QueryInstance> {
  const parsed = parseQueryApiConfig({});
  if (!parsed.ok) throw new Error(parsed.errors.join('\n'));
  const started = await startQueryApi({
    config: {
      ...config,
      REDIS_URL: opts.redisUrl ?? config.REDIS_URL,
      JWT_SECRET: opts.jwtSecret ?? config.JWT_SECRET,
    },
    queryConfig: { ...parsed.config, ...opts.queryConfig },
    logger: createLogger('query-api-test', process.env.LOG_LEVEL ?? 'warn'),
    port: 0,
    host: '127.0.0.1',
    readModelRoot: opts.readModelRoot,
    catalogPrefix: opts.catalogPrefix,
    searchAlias: opts.searchAlias,
    ...(opts.flowRules ? { flowRules: opts.flowRules } : {}),
  });
  const baseUrl = started.url;
  return {
    api: started.api,
    baseUrl,
    client: createQueryApiClient({ baseUrl }),
    get: (path, headers = {}) => fetch(`${baseUrl}${path}`, { headers }),
    adminGet: (path) => fetch(`${started.adminUrl}${path}`),
    close: () => started.stop(1_000),
  };
}
