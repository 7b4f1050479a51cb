import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  configuredEngines,
  createSearchEngine,
  type SearchEngine,
  type SearchKind,
} from '../../platform/search/index.ts';
import { withSearchCn } from '../../platform/search/institution-document.ts';
import { institutionSearchQuery, institutionSuggestQuery } from '../../platform/search/institution-query.ts';
import { ensureInstitutionsIndex } from '../../projections/catalog/search-index.ts';
import { institutionSearchDocument } from '../../read-models/catalog.ts';
import { testConfig } from '../support/test-config.ts';
import { uniqueName } from '../support/wait.ts';

// A small version of bench/search-relevance.json on each configured engine: the institutions
// index as the catalog projector creates and writes it, queried as the query API queries it.
const engines = configuredEngines(testConfig());

const row = (id: number, name: string, more: Record<string, unknown> = {}) => ({
  id,
  name,
  alias_names: [],
  city: '天津',
  district: '和平区',
  level: '二级甲等',
  type: '综合医院',
  tags: [],
  rating: 4,
  status: 'active',
  ...more,
});

const institutions = [
  row(1, '天津市第一人民医院', { alias_names: ['天津市一院'], level: '三级甲等', rating: 4.6 }),
  row(2, '天津市第一人民医院（河西区二院区）', { level: '三级甲等', rating: 4.9 }),
  row(3, '天津市精神卫生中心', { type: '专科医院', level: '三级甲等', rating: 4.8 }),
  row(4, '天津市和平区人民医院', { tags: ['卒中中心'], rating: 3.9 }),
  row(5, '北京市妇幼保健院', { city: '北京', district: '东城区', type: '妇幼保健院', level: '三级甲等' }),
  row(6, '北京市东城区中医医院', { city: '北京', district: '东城区', type: '中医医院' }),
  row(7, '北京市肿瘤医院', { city: '北京', district: '东城区', type: '专科医院', level: '三级乙等' }),
  row(8, '重庆市渝中区人民医院', { city: '重庆', district: '渝中区' }),
  row(9, '天津市南开区人民医院', { status: 'closed' }),
];

for (const kind of Object.keys(engines) as SearchKind[]) {
  const url = engines[kind];
  if (!url) {
    const variable = kind === 'elasticsearch' ? 'ELASTICSEARCH_URL' : 'OPENSEARCH_URL';
    console.log(
      `[search-chinese] SKIP ${kind}: ${variable} is not set, so there is no ${kind} server to test against`,
    );
  }
  describe.skipIf(!url)(`Chinese institution search: ${kind}`, () => {
    const search: SearchEngine = createSearchEngine(kind, { url: url ?? 'http://unset' });
    const alias = uniqueName('cn-search').toLowerCase();
    const ids = async (q: string, city?: string) =>
      (
        await search.search<{ id: number }>(alias, {
          query: institutionSearchQuery({ q, city }),
          sort: [{ _score: 'desc' }, { id: 'asc' }],
          size: 10,
        })
      ).hits.map((h) => Number(h.id));

    beforeAll(async () => {
      const { index } = await ensureInstitutionsIndex(search, alias);
      const result = await search.bulk(
        institutions.map((r) => ({
          action: 'index' as const,
          index,
          id: String(r.id),
          version: 1,
          document: withSearchCn(institutionSearchDocument(r)),
        })),
        { refresh: true },
      );
      expect(result.failures).toEqual([]);
    });

    afterAll(async () => {
      for (const index of await search.aliasTargets(alias)) await search.deleteIndex(index);
      await search.close();
    });

    it('ranks the exact name first, before a branch with a better rating', async () => {
      expect((await ids('天津市第一人民医院'))[0]).toBe(1);
      expect((await ids('天津市一院'))[0]).toBe(1);
    });

    it('finds by full pinyin, pinyin prefix and initials', async () => {
      expect((await ids('tianjinshidiyirenminyiyuan'))[0]).toBe(1);
      expect((await ids('TianJin')).sort()).toEqual([1, 2, 3, 4]);
      expect((await ids('tjsdyrmyy'))[0]).toBe(1);
      expect(await ids('chongqing')).toEqual([8]);
    });

    it('folds traditional characters in the query', async () => {
      expect((await ids('天津市第一人民醫院'))[0]).toBe(1);
      expect(await ids('北京市腫瘤醫院')).toEqual([7]);
    });

    it('matches a single character, names starting with it first', async () => {
      const tian = await ids('天');
      expect(tian.slice(0, 4).sort()).toEqual([1, 2, 3, 4]);
      expect(await ids('渝')).toEqual([8]);
    });

    it('expands abbreviations of levels and types', async () => {
      expect((await ids('三甲')).sort()).toEqual([1, 2, 3, 5]);
      expect(await ids('妇幼')).toEqual([5]);
      expect(await ids('中医院')).toEqual([6]);
      expect((await ids('北京三甲'))[0]).toBe(5);
    });

    it('does not let 医院 or 中心 match everything', async () => {
      expect(await ids('北京肿瘤医院')).toEqual([7]);
      expect((await ids('卒中中心'))[0]).toBe(4);
      expect(await ids('卒中中心')).not.toContain(3);
    });

    it('filters by city and leaves inactive institutions out', async () => {
      expect(await ids('人民医院', '重庆')).toEqual([8]);
      expect(await ids('天津市南开区人民医院')).not.toContain(9);
    });

    it('suggests by prefix as one types', async () => {
      const suggest = async (q: string) =>
        (
          await search.search<{ id: number }>(alias, { query: institutionSuggestQuery({ q }), size: 5 })
        ).hits.map((h) => Number(h.id));
      expect((await suggest('天津市第')).sort()).toEqual([1, 2]);
      expect(await suggest('beijingshizhong')).toEqual([7]);
      expect(await suggest('北京市妇')).toEqual([5]);
    });
  });
}
