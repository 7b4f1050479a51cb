/**
 * Pure text functions for Chinese search, run in Node at indexing and query time because the
 * local OpenSearch has no pinyin or STConvert plugin (docs/adr/0017-chinese-search.md):
 * traditional → simplified folding (opencc-js), full pinyin and initials (pinyin-pro, which reads
 * polyphones from context: 重庆 → chongqing, 长安 → changan), and the synonym rules the index's
 * analyzer expands level, type and tag terms with.
 */
import { Converter } from 'opencc-js';
import { pinyin } from 'pinyin-pro';

/**
 * opencc-js's .d.ts import './core' without an extension, which NodeNext resolution cannot
 * follow (its option and return types come out unresolved): typed here once.
 */
export const openccConverter = Converter as unknown as (options: {
  from: 't' | 'cn' | 'hk' | 'tw';
  to: 't' | 'cn' | 'hk' | 'tw';
}) => (text: string) => string;

const toSimplifiedChars = openccConverter({ from: 't', to: 'cn' });

const HAN = /\p{Script=Han}/u;

/**
 * The form every search field and every query is compared in: traditional folded to simplified,
 * full-width folded to half-width (NFKC: （ → (, Ａ → a), lower case, runs of spaces collapsed.
 */
export function foldText(text: string): string {
  return toSimplifiedChars(text.normalize('NFKC')).toLowerCase().replace(/\s+/g, ' ').trim();
}

/** One lower-case syllable per Han character; latin/digit runs kept as they are; the rest dropped. */
export function pinyinSyllables(text: string): string[] {
  const folded = foldText(text);
  const out: string[] = [];
  const parts = pinyin(folded, { toneType: 'none', type: 'array', v: true });
  for (const part of parts) {
    const token = part.toLowerCase().replace(/[^a-z0-9]/g, '');
    if (token) out.push(token);
  }
  return out;
}

/** The first letter of each syllable (digits and latin runs kept whole): 天津市第一人民医院 → tjsdyrmyy. */
export function pinyinInitials(text: string): string {
  const folded = foldText(text);
  const parts = pinyin(folded, { pattern: 'first', toneType: 'none', type: 'array', v: true });
  return parts
    .map((p, i) => (HAN.test(folded[i] ?? '') ? p : p.replace(/[^a-z0-9]/gi, '')))
    .join('')
    .toLowerCase();
}

/** Every suffix that starts at a syllable boundary, joined: [a,b,c] → [abc, bc, c]. */
export function joinedSuffixes(syllables: readonly string[]): string[] {
  return syllables.map((_, i) => syllables.slice(i).join(''));
}

/** A query typed in latin letters (pinyin or initials), spaces and apostrophes allowed (xi'an). */
export const isLatinQuery = (folded: string): boolean => /^[a-z0-9' ]+$/.test(folded) && /[a-z]/.test(folded);

/** A latin query as the pinyin fields hold it: no spaces, no apostrophes. */
export const compactLatin = (folded: string): string => folded.replace(/[' ]/g, '');

/**
 * Index-time synonym rules (Solr format, `term => expansions`), applied by the analyzer of the
 * `terms` field to levels, types and tags: a document at level 三级甲等 also carries 三甲 and 三级,
 * so the query 三甲 (or any query containing it) finds it. One-way on purpose: 三级 finds both
 * 三级甲等 and 三级乙等, 三级甲等 does not find 三级乙等.
 */
export const SYNONYM_RULES: readonly string[] = [
  '三级甲等 => 三级甲等, 三甲, 三级',
  '三级乙等 => 三级乙等, 三乙, 三级',
  '二级甲等 => 二级甲等, 二甲, 二级',
  '二级乙等 => 二级乙等, 二乙, 二级',
  '一级 => 一级, 一级医院',
  '妇幼保健院 => 妇幼保健院, 妇幼, 妇幼医院, 妇幼保健',
  '中医医院 => 中医医院, 中医院, 中医',
  '社区卫生服务中心 => 社区卫生服务中心, 社区医院, 社区中心, 社区',
  '专科医院 => 专科医院, 专科',
  '综合医院 => 综合医院, 综合',
  '医保定点 => 医保定点, 医保',
  '24小时急诊 => 24小时急诊, 急诊, 24小时',
  '互联网医院 => 互联网医院, 互联网, 网上问诊',
  '胸痛中心 => 胸痛中心, 胸痛',
  '卒中中心 => 卒中中心, 卒中, 脑卒中',
  '夜间门诊 => 夜间门诊, 夜诊',
];

const parsedRules: ReadonlyMap<string, readonly string[]> = new Map(
  SYNONYM_RULES.map((rule) => {
    const [from = '', to = ''] = rule.split('=>').map((s) => s.trim());
    return [from, to.split(',').map((s) => s.trim())];
  }),
);

/** What the analyzer indexes for one term: the term and its expansions (the rules above). */
export function expandTerm(term: string): string[] {
  const folded = foldText(term);
  return [...(parsedRules.get(folded) ?? [folded])];
}
