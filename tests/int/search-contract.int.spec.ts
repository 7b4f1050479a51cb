import { afterAll, describe, expect, it } from 'vitest';
import {
  configuredEngines,
  createSearchEngine,
  type SearchEngine,
  type SearchKind,
} from '../../platform/search/index.ts';
import { testConfig } from '../support/test-config.ts';
import { uniqueName } from '../support/wait.ts';

// The contract every search driver must keep; it runs against each engine whose URL is configured.
const engines = configuredEngines(testConfig());

const definition = {
  settings: { number_of_shards: 1, number_of_replicas: 0 },
  mappings: {
    dynamic: 'strict',
    properties: {
      name: { type: 'text', analyzer: 'cjk' },
      city: { type: 'keyword' },
      rank: { type: 'integer' },
    },
  },
};

const hospitals = [
  { id: 'h1', name: '北京协和医院', city: '北京', rank: 1 },
  { id: 'h2', name: '四川大学华西医院', city: '成都', rank: 2 },
  { id: 'h3', name: '复旦大学附属中山医院', city: '上海', rank: 3 },
  { id: 'h4', name: '中山大学附属第一医院', city: '广州', rank: 4 },
];

for (const kind of Object.keys(engines) as SearchKind[]) {
  const url = engines[kind];
  if (!url) {
    const variable = kind === 'elasticsearch' ? 'ELASTICSEARCH_URL' : 'OPENSEARCH_URL';
    console.log(
      `[search-contract] SKIP ${kind}: ${variable} is not set, so there is no ${kind} server to test against`,
    );
  }
  describe.skipIf(!url)(`search contract: ${kind}`, () => {
    const search: SearchEngine = createSearchEngine(kind, { url: url ?? 'http://unset' });
    const index = uniqueName('contract').toLowerCase();
    const alias = `${index}_alias`;

    afterAll(async () => {
      await search.deleteIndex(index);
      await search.deleteIndex(`${index}_v2`);
      await search.close();
    });

    it('reports a usable cluster', async () => {
      expect(['green', 'yellow']).toContain(await search.health());
    });

    it('creates an index with the cjk analyzer, once', async () => {
      expect(await search.createIndex(index, definition)).toBe(true);
      expect(await search.createIndex(index, definition)).toBe(false);
      expect(await search.indexExists(index)).toBe(true);
    });

    it('bulk-indexes Chinese text and finds it by a two-character query', async () => {
      const result = await search.bulk(
        hospitals.map(({ id, ...document }) => ({ action: 'index', index, id, document, version: 1 })),
        { refresh: true },
      );
      expect(result).toEqual({ applied: 4, stale: 0, failures: [] });

      const found = await search.search<{ name: string }>(index, { query: { match: { name: '协和' } } });
      expect(found.hits.map((h) => h.id)).toEqual(['h1']);

      const zhongshan = await search.search<{ name: string }>(index, {
        query: { match_phrase: { name: '中山' } },
        sort: [{ rank: 'asc' }],
      });
      expect(zhongshan.hits.map((h) => h.id)).toEqual(['h3', 'h4']);
    });

    it('applies external versions only forward (replays are harmless)', async () => {
      const stale = await search.bulk(
        [{ action: 'index', index, id: 'h1', document: { name: '旧名', city: '北京', rank: 1 }, version: 1 }],
        { refresh: true },
      );
      expect(stale).toEqual({ applied: 0, stale: 1, failures: [] });
      const newer = await search.bulk(
        [
          {
            action: 'index',
            index,
            id: 'h1',
            document: { name: '北京协和医院东院', city: '北京', rank: 1 },
            version: 2,
          },
        ],
        { refresh: true },
      );
      expect(newer.applied).toBe(1);
      expect(await search.get(index, 'h1')).toEqual({
        source: { name: '北京协和医院东院', city: '北京', rank: 1 },
        version: 2,
      });
    });

    it('pages with search_after in a stable order', async () => {
      const first = await search.search<{ rank: number }>(index, {
        query: { match_all: {} },
        size: 2,
        sort: [{ rank: 'asc' }],
      });
      const second = await search.search<{ rank: number }>(index, {
        query: { match_all: {} },
        size: 2,
        sort: [{ rank: 'asc' }],
        searchAfter: first.hits.at(-1)!.sort!,
      });
      expect([...first.hits, ...second.hits].map((h) => h.id)).toEqual(['h1', 'h2', 'h3', 'h4']);
      expect(second.total).toBe(4);
    });

    it('swaps an alias atomically to a new index', async () => {
      await search.swapAlias(alias, index);
      expect(await search.aliasTargets(alias)).toEqual([index]);
      await search.createIndex(`${index}_v2`, definition);
      await search.swapAlias(alias, `${index}_v2`);
      expect(await search.aliasTargets(alias)).toEqual([`${index}_v2`]);
      expect(await search.count(alias)).toBe(0);
    });

    it('rejects documents outside a strict mapping as a failure, not silently', async () => {
      const result = await search.bulk([{ action: 'index', index, id: 'x', document: { unknown: 1 } }]);
      expect(result.failures).toHaveLength(1);
      expect(result.failures[0]!.reason).toContain('strict');
    });
  });
}
