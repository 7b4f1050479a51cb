import { afterAll, describe, expect, it } from 'vitest';
import {
  configuredEngines,
  createSearchEngine,
  type SearchEngine,
  type SearchKind,
} from '../../platform/search/index.ts';
import { institutionSearchQuery } from '../../platform/search/institution-query.ts';
import { ensureInstitutionsIndex, versionedIndexName } from '../../projections/catalog/search-index.ts';
import { testConfig } from '../support/test-config.ts';
import { uniqueName } from '../support/wait.ts';

// Zero-downtime rebuild: an index of the previous version (v1: cjk only, no search_cn) behind a
// prefix-scoped alias is rebuilt into v2 by ensureInstitutionsIndex while clients keep searching
// through the alias; no search may fail or come back empty during the copy, the swap and the
// deletion of the old index.
const engines = configuredEngines(testConfig());

const v1Definition = {
  settings: { number_of_shards: 1, number_of_replicas: 0, refresh_interval: '1s' },
  mappings: {
    dynamic: true,
    properties: {
      id: { type: 'long' },
      name: { type: 'text', analyzer: 'cjk' },
      city: { type: 'keyword' },
      level: { type: 'keyword' },
      status: { type: 'keyword' },
      rating: { type: 'scaled_float', scaling_factor: 100 },
    },
  },
};

const DOCS = 600;
const doc = (id: number) => ({
  id,
  name: `天津市第${id}人民医院`,
  alias_names: [],
  city: '天津',
  level: '二级甲等',
  type: '综合医院',
  tags: [],
  rating: 4,
  status: 'active',
});

for (const kind of Object.keys(engines) as SearchKind[]) {
  const url = engines[kind];
  if (!url) {
    const variable = kind === 'elasticsearch' ? 'ELASTICSEARCH_URL' : 'OPENSEARCH_URL';
    console.log(
      `[search-alias-rebuild] SKIP ${kind}: ${variable} is not set, so there is no ${kind} server to test against`,
    );
  }
  describe.skipIf(!url)(`institutions index rebuild behind its alias: ${kind}`, () => {
    const search: SearchEngine = createSearchEngine(kind, { url: url ?? 'http://unset' });
    const alias = uniqueName('cn-rebuild').toLowerCase();
    const v1 = versionedIndexName(alias, 1);
    const v2 = versionedIndexName(alias, 2);

    afterAll(async () => {
      for (const index of [v1, v2]) await search.deleteIndex(index);
      await search.close();
    });

    it('copies, swaps and drops the old index with no failed or empty answer', async () => {
      await search.createIndex(v1, v1Definition);
      await search.swapAlias(alias, v1);
      for (let i = 0; i < DOCS; i += 200) {
        const ops = Array.from({ length: 200 }, (_, k) => i + k + 1).map((id) => ({
          action: 'index' as const,
          index: v1,
          id: String(id),
          version: 10 + id,
          document: doc(id),
        }));
        expect((await search.bulk(ops, { refresh: true })).failures).toEqual([]);
      }

      // A query both versions answer (v1 has no search_cn): the name, with the city filter.
      const query = { bool: { must: { match: { name: '天津' } }, filter: { term: { city: '天津' } } } };
      let answered = 0;
      const problems: string[] = [];
      let stop = false;
      const client = async () => {
        while (!stop) {
          try {
            const result = await search.search(alias, { query, size: 5, trackTotalHits: true });
            if (result.total !== DOCS) problems.push(`total ${result.total}`);
            answered += 1;
          } catch (err) {
            problems.push(err instanceof Error ? err.message : String(err));
          }
        }
      };
      const clients = Array.from({ length: 4 }, client);
      await new Promise((r) => setTimeout(r, 300));
      const before = answered;

      const result = await ensureInstitutionsIndex(search, alias, 2, { graceMs: 500 });
      await new Promise((r) => setTimeout(r, 300));
      stop = true;
      await Promise.all(clients);

      expect(problems).toEqual([]);
      expect(before).toBeGreaterThan(0);
      expect(answered).toBeGreaterThan(before);
      expect(result).toMatchObject({ index: v2, aliased: true, rebuiltFrom: [v1] });
      expect(await search.aliasTargets(alias)).toEqual([v2]);
      expect(await search.indexExists(v1)).toBe(false);
      expect(await search.count(alias)).toBe(DOCS);
      // Versions carried over (external versioning stays monotonic) and search_cn computed.
      expect(await search.get(alias, '7')).toMatchObject({
        version: 17,
        source: { search_cn: { pinyin: 'tianjinshidi7renminyiyuan' } },
      });
      const hits = await search.search<{ id: number }>(alias, {
        query: institutionSearchQuery({ q: 'tjsd7rmyy' }),
        size: 1,
      });
      expect(hits.hits.map((h) => h.id)).toEqual(['7']);
    });

    it('is a no-op when the alias already points at the current version', async () => {
      expect(await ensureInstitutionsIndex(search, alias, 2)).toMatchObject({
        index: v2,
        created: false,
        rebuiltFrom: [],
      });
    });
  });
}
