import type { Config } from '../config.ts';
import { elasticsearchTransport } from './elasticsearch-driver.ts';
import type { IndexLayout } from './index-layout.ts';
import { withNodeFailover } from './node-failover.ts';
import { openSearchTransport } from './opensearch-driver.ts';
import type { DriverOptions } from './raw-transport.ts';
import { searchEngineOver } from './search-engine-impl.ts';
import type { SearchEngine, SearchKind } from './search-engine.ts';

export * from './search-engine.ts';
export type { IndexLayout } from './index-layout.ts';

export interface SearchEngineOptions extends DriverOptions {
  /** Shards, replicas, refresh of every index created through this engine; unset: the definitions'. */
  layout?: IndexLayout;
}

export function createSearchEngine(kind: SearchKind, opts: SearchEngineOptions): SearchEngine {
  const transport = kind === 'elasticsearch' ? elasticsearchTransport(opts) : openSearchTransport(opts);
  const nodes = typeof opts.url === 'string' ? 1 : opts.url.length;
  return searchEngineOver(withNodeFailover(transport, nodes), opts.layout);
}

type SearchSettings = Pick<Config, 'SEARCH_ENGINE' | 'SEARCH_URL'> &
  Partial<Pick<Config, 'SEARCH_URLS' | 'SEARCH_SHARDS' | 'SEARCH_REPLICAS' | 'SEARCH_REFRESH_INTERVAL'>>;

/** The nodes the services talk to: SEARCH_URLS when set (several nodes of one cluster), else SEARCH_URL. */
export const searchUrlsOf = (config: Pick<SearchSettings, 'SEARCH_URL' | 'SEARCH_URLS'>): string[] =>
  config.SEARCH_URLS && config.SEARCH_URLS.length > 0 ? config.SEARCH_URLS : [config.SEARCH_URL];

export const indexLayoutOf = (
  config: Pick<SearchSettings, 'SEARCH_SHARDS' | 'SEARCH_REPLICAS' | 'SEARCH_REFRESH_INTERVAL'>,
): IndexLayout => ({
  shards: config.SEARCH_SHARDS,
  replicas: config.SEARCH_REPLICAS,
  refreshInterval: config.SEARCH_REFRESH_INTERVAL,
});

export const searchFromConfig = (
  config: SearchSettings,
  opts: Omit<SearchEngineOptions, 'url'> = {},
): SearchEngine => {
  const urls = searchUrlsOf(config);
  return createSearchEngine(config.SEARCH_ENGINE, {
    layout: indexLayoutOf(config),
    ...opts,
    url: urls.length === 1 ? urls[0]! : urls,
  });
};

/** Every engine a contract test should run against: those whose URL is configured. */
export function configuredEngines(
  config: Pick<Config, 'SEARCH_ENGINE' | 'SEARCH_URL' | 'OPENSEARCH_URL' | 'ELASTICSEARCH_URL'>,
): Record<SearchKind, string | undefined> {
  return {
    opensearch:
      config.OPENSEARCH_URL ?? (config.SEARCH_ENGINE === 'opensearch' ? config.SEARCH_URL : undefined),
    elasticsearch:
      config.ELASTICSEARCH_URL ?? (config.SEARCH_ENGINE === 'elasticsearch' ? config.SEARCH_URL : undefined),
  };
}
