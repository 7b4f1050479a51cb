/**
 * A query API on a free port for the browser tests (`startQueryApi`, as main.ts runs it), with the
 * admin URL the gateway's ops summary scrapes and a Redis URL of the caller's choosing.
 */
import type { Config } from '../../../platform/config.ts';
import { createLogger } from '../../../platform/logger.ts';
import { parseQueryApiConfig, type QueryApiConfig } from '../../../query-api/config.ts';
import { startQueryApi } from '../../../query-api/start.ts';

export interface QueryNode {
  baseUrl: string;
  adminUrl: string;
  get(path: string, headers?: Record<string, string>): Promise<Response>;
  close(): Promise<void>;
}

export interface QueryNodeOptions {
  catalogPrefix: string;
  searchAlias: string;
  readModelRoot: string;
  redisUrl?: string;
  queryConfig?: Partial<QueryApiConfig>;
}

export async function startQueryNode(config: Config, opts: QueryNodeOptions): Promise<QueryNode> {
  const parsed = parseQueryApiConfig({});
  if (!parsed.ok) throw new Error(parsed.errors.join('\n'));
  const started = await startQueryApi({
    config: { ...config, REDIS_URL: opts.redisUrl ?? config.REDIS_URL },
    queryConfig: { ...parsed.config, ...opts.queryConfig },
    logger: createLogger('query-api-web-test', process.env.LOG_LEVEL ?? 'warn'),
    port: 0,
    adminPort: 0,
    host: '127.0.0.1',
    readModelRoot: opts.readModelRoot,
    catalogPrefix: opts.catalogPrefix,
    searchAlias: opts.searchAlias,
  });
  return {
    baseUrl: started.url,
    adminUrl: started.adminUrl,
    get: (path, headers = {}) => fetch(`${started.url}${path}`, { headers }),
    close: () => started.stop(1_000),
  };
}
