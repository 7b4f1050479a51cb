import type { Config } from '../config.ts';
import { elasticsearchTransport } from './elasticsearch-driver.ts';
import { openSearchTransport } from './opensearch-driver.ts';
import type { DriverOptions } from './raw-transport.ts';
import { searchEngineOver } from './search-engine-impl.ts';
import type { SearchEngine, SearchKind } from './search-engine.ts';

export * from './search-engine.ts';

export function createSearchEngine(kind: SearchKind, opts: DriverOptions): SearchEngine {
  return searchEngineOver(
    kind === 'elasticsearch' ? elasticsearchTransport(opts) : openSearchTransport(opts),
  );
}

export const searchFromConfig = (
  config: Pick<Config, 'SEARCH_ENGINE' | 'SEARCH_URL'>,
  opts: Omit<DriverOptions, 'url'> = {},
): SearchEngine => createSearchEngine(config.SEARCH_ENGINE, { ...opts, url: config.SEARCH_URL });

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
