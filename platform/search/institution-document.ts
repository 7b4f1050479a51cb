/**
 * The Chinese search fields of an institution document (`search_cn`), derived in Node from the
 * row at indexing time: folded names, pinyin, initials, terms for the synonym analyzer and the
 * level as a number. The row's own columns stay untouched beside it (readers publish only those).
 */
import { foldText, joinedSuffixes, pinyinInitials, pinyinSyllables } from './chinese-text.ts';

export const LEVEL_RANK: Readonly<Record<string, number>> = {
  三级甲等: 6,
  三级乙等: 5,
  二级甲等: 4,
  二级乙等: 3,
  一级: 2,
  未定级: 1,
};

const texts = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string' && s.trim() !== '') : [];
const text = (v: unknown): string[] => (typeof v === 'string' && v.trim() !== '' ? [v] : []);
const unique = (values: string[]): string[] => [...new Set(values.filter((v) => v !== ''))];

export interface SearchCnFields {
  name: string;
  aliases: string[];
  pinyin: string;
  syllables: string;
  pinyin_parts: string[];
  initials: string;
  initials_parts: string[];
  terms: string[];
  places: string[];
  level_rank: number;
}

export function searchCnFields(row: Record<string, unknown>): SearchCnFields {
  const name = foldText(typeof row.name === 'string' ? row.name : '');
  const aliases = unique(texts(row.alias_names).map(foldText));
  const nameSyllables = pinyinSyllables(name);
  const aliasSyllables = aliases.map(pinyinSyllables);
  const initials = pinyinInitials(name);
  return {
    name,
    aliases,
    pinyin: nameSyllables.join(''),
    syllables: [nameSyllables, ...aliasSyllables].map((s) => s.join(' ')).join(' '),
    pinyin_parts: unique([nameSyllables, ...aliasSyllables].flatMap(joinedSuffixes)),
    initials,
    initials_parts: unique([...aliases.map(pinyinInitials), ...joinedSuffixes([...initials]).slice(1)]),
    terms: unique([...text(row.level), ...text(row.type), ...texts(row.tags)].map(foldText)),
    places: unique([...text(row.city), ...text(row.district)].map(foldText)),
    level_rank: LEVEL_RANK[typeof row.level === 'string' ? row.level : ''] ?? 0,
  };
}

/** A search document with its Chinese fields, recomputed from the row's columns every time. */
export function withSearchCn(document: Record<string, unknown>): Record<string, unknown> {
  const { search_cn: _derived, ...row } = document;
  return { ...row, search_cn: searchCnFields(row) };
}
