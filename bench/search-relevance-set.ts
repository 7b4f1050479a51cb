/**
 * Builds bench/search-relevance.json from the deterministic seed: each query with the ids an
 * engine may rank first (`top`) and the ids that should be in the first ten (`relevant`; recall@10
 * is measured against at most ten of them). Expectations come from the rows only, never from a
 * search engine, and were committed before any tuning. Run: npx tsx bench/search-relevance-set.ts
 */
import { writeFileSync } from 'node:fs';
import { pinyin } from 'pinyin-pro';
import { createRandom } from '../infra/seed/random.ts';
import { openccConverter } from '../platform/search/chinese-text.ts';
import { seededInstitutions, type InstitutionRow } from './search-catalog.ts';

export interface RelevanceQuery {
  kind: string;
  q: string;
  city?: string;
  top: number[];
  relevant: number[];
}

const rows = seededInstitutions().filter((r) => r.status === 'active');
const r = createRandom(20_261_130);
const toTraditional = openccConverter({ from: 'cn', to: 't' });
const full = (s: string) => pinyin(s, { toneType: 'none', type: 'array', v: true }).join('').toLowerCase();
const initials = (s: string) =>
  pinyin(s, { pattern: 'first', toneType: 'none', type: 'array', v: true }).join('').toLowerCase();
const ids = (xs: InstitutionRow[]) => xs.map((x) => x.id);
const where = (f: (x: InstitutionRow) => boolean) => ids(rows.filter(f));
const plain = rows.filter((x) => !x.name.includes('（'));

/** Institutions whose value under `key` is unique among the active ones. */
function uniqueBy(key: (x: InstitutionRow) => string, pool = plain): InstitutionRow[] {
  const counts = new Map<string, number>();
  for (const x of rows) counts.set(key(x), (counts.get(key(x)) ?? 0) + 1);
  return pool.filter((x) => counts.get(key(x)) === 1);
}

const pickN = (pool: InstitutionRow[], n: number) => r.sample(pool, n);
const one = (kind: string, q: string, x: InstitutionRow): RelevanceQuery => ({
  kind,
  q,
  top: [x.id],
  relevant: [x.id],
});
const set = (kind: string, q: string, top: number[], relevant = top, city?: string): RelevanceQuery => ({
  kind,
  q,
  ...(city ? { city } : {}),
  top,
  relevant,
});

const queries: RelevanceQuery[] = [];
for (const x of pickN(plain, 10)) queries.push(one('exact-name', x.name, x));
const aliasOwners = rows.flatMap((x) => x.alias_names.map((a) => ({ a, x })));
const aliasCount = new Map<string, number>();
for (const { a } of aliasOwners) aliasCount.set(a, (aliasCount.get(a) ?? 0) + 1);
for (const { a, x } of r.sample(
  aliasOwners.filter(({ a, x }) => aliasCount.get(a) === 1 && !x.name.includes('（') && a !== x.name),
  6,
))
  queries.push(one('alias', a, x));
for (const x of pickN(
  uniqueBy((x) => full(x.name)),
  8,
))
  queries.push(one('full-pinyin', full(x.name), x));
for (const x of pickN(
  uniqueBy((x) => initials(x.name)),
  8,
))
  queries.push(one('initials', initials(x.name), x));
for (const x of pickN(plain, 6)) {
  const chars = [...x.name];
  const at = r.int(Math.min(3, chars.length - 2), chars.length - 2);
  chars[at] = chars[at] === '院' ? '园' : '园';
  queries.push(one('typo', chars.join(''), x));
}
for (const x of pickN(
  uniqueBy((x) => full(x.name)),
  3,
)) {
  const p = full(x.name);
  const at = r.int(3, p.length - 2);
  queries.push(one('pinyin-typo', p.slice(0, at) + p.slice(at + 1), x));
}
for (const x of pickN(
  plain.filter((x) => toTraditional(x.name) !== x.name),
  5,
))
  queries.push(one('traditional', toTraditional(x.name), x));

const startsWith = (p: string) => where((x) => x.name.startsWith(p));
const contains = (p: string) => where((x) => x.name.includes(p));
const level = (l: string, city?: string) => where((x) => x.level === l && (!city || x.city === city));
const type = (t: string, city?: string) => where((x) => x.type === t && (!city || x.city === city));
const tag = (t: string) => where((x) => x.tags.includes(t));
/** 〈city〉〈specialist hospital〉 for the first city that has one: its hospital(s) first. */
function specialist(suffix: string): RelevanceQuery {
  const city = rows.find((x) => x.name === `${x.city}市${suffix}`)?.city ?? '';
  return set('hospital-word', `${city}${suffix}`, startsWith(`${city}市${suffix}`));
}
const fuyouCity = rows.find((x) => x.type === '妇幼保健院')?.city ?? '';

queries.push(
  set('city-name', '天津', startsWith('天津')),
  set('single-char', '天', startsWith('天'), contains('天')),
  set(
    'single-char',
    '京',
    where((x) => x.name.includes('京')),
  ),
  set('single-char', '肿', contains('肿')),
  set('single-char', '儿', contains('儿')),
  set('pinyin-prefix', 'tianjin', startsWith('天津')),
  set('pinyin-prefix', 'beijing', startsWith('北京')),
  set('pinyin-prefix', 'shanghai', startsWith('上海')),
  set('pinyin-prefix', 'chongqing', startsWith('重庆')),
  set('initials-prefix', 'tjs', startsWith('天津市')),
  set('traditional', '醫院', contains('医院')),
  set(
    'traditional',
    '天津醫院',
    where((x) => x.city === '天津' && x.name.includes('医院')),
  ),
  set('traditional', '兒童醫院', contains('儿童医院')),
  set('abbreviation', '三甲', level('三级甲等')),
  set('abbreviation', '北京三甲', level('三级甲等', '北京')),
  set('abbreviation', '三甲医院', level('三级甲等')),
  set('abbreviation', '二甲', level('二级甲等')),
  set('abbreviation', '妇幼', type('妇幼保健院')),
  set('abbreviation', `${fuyouCity}妇幼`, type('妇幼保健院', fuyouCity)),
  set('abbreviation', '中医院', type('中医医院')),
  set('abbreviation', '广州中医院', type('中医医院', '广州')),
  set('abbreviation', '社区医院', type('社区卫生服务中心')),
  set('tag', '卒中中心', tag('卒中中心')),
  set('tag', '胸痛中心', tag('胸痛中心')),
  set('tag', '互联网医院', tag('互联网医院')),
  set(
    'hospital-word',
    '天津医院',
    where((x) => x.city === '天津' && x.name.includes('医院')),
  ),
  specialist('肿瘤医院'),
  specialist('儿童医院'),
  specialist('眼科医院'),
  set('hospital-word', '人民医院', contains('人民医院')),
  set(
    'city-filter',
    '人民医院',
    where((x) => x.city === '上海' && x.name.includes('人民医院')),
    undefined,
    '上海',
  ),
  set('city-filter', '中医', type('中医医院', '杭州'), undefined, '杭州'),
  set(
    'city-filter',
    'rmyy',
    where((x) => x.city === '北京' && x.name.includes('人民医院')),
    undefined,
    '北京',
  ),
);
const tianjinYiyuan = rows.find((x) => x.name === '天津市第一人民医院');
if (tianjinYiyuan) {
  queries.push(one('alias', '天津市一院', tianjinYiyuan));
  queries.push(one('full-pinyin', 'tianjinshidiyirenminyiyuan', tianjinYiyuan));
  queries.push(one('initials', 'tjsdyrmyy', tianjinYiyuan));
}

for (const q of queries) if (q.top.length === 0) throw new Error(`no expected result for ${q.kind} ${q.q}`);
writeFileSync(
  new URL('search-relevance.json', import.meta.url),
  JSON.stringify({ seed: 'DEFAULT_SEED_OPTIONS (infra/seed/generate.ts)', queries }) + '\n',
);
console.log(`${queries.length} queries written to bench/search-relevance.json`);
