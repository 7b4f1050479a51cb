/**
 * The institutions search and suggest queries (the query API and bench:search use these).
 *
 * Every clause is strict on its own and the query asks for one of them, so a query is never a
 * loose OR of bigrams: bigram matches need 75 % of the query's bigrams (医院 alone no longer
 * pulls in 2,800 institutions for 北京肿瘤医院), single-character clauses are only added for a
 * one-character query. Scores are explicit: exact name 100, exact alias 80, exact pinyin 90,
 * exact initials 60, exact tag 40, name prefix 30 … (constant_score), plus the BM25 of the bigram
 * match, then level (0.6 per level) and rating (0.5 per star) as tie-breakers.
 */
import { compactLatin, foldText, isLatinQuery } from './chinese-text.ts';
import type { Query } from './search-engine.ts';

const constant = (boost: number, filter: Query): Query => ({ constant_score: { filter, boost } });
const term = (field: string, value: string): Query => ({ term: { [field]: value } });

function latinClauses(q: string): Query[] {
  const clauses = [
    constant(90, term('search_cn.pinyin', q)),
    constant(70, term('search_cn.pinyin_parts', q)),
    constant(60, term('search_cn.initials', q)),
    constant(50, term('search_cn.initials_parts', q)),
    constant(30, term('search_cn.pinyin.prefix', q)),
    constant(12, term('search_cn.pinyin_parts.prefix', q)),
    constant(8, term('search_cn.syllables', q)),
  ];
  if (q.length >= 2) {
    clauses.push(constant(20, term('search_cn.initials.prefix', q)));
    clauses.push(constant(6, term('search_cn.initials_parts.prefix', q)));
  }
  if (q.length >= 6) {
    // A mistyped full pinyin: one or two edits away from a name's.
    // Not constant: the fuzzy score falls with the edit distance, so the nearest name wins.
    clauses.push({ fuzzy: { 'search_cn.pinyin': { value: q, fuzziness: 'AUTO', boost: 10 } } });
  }
  return clauses;
}

/**
 * Longer queries are names: their 2–8 character n-grams (a hundred terms for 17 characters)
 * against level/type/tag/place terms cost more than they find.
 */
const TERMS_MAX_CHARS = 12;

function hanClauses(q: string): Query[] {
  const short = [...q].length <= TERMS_MAX_CHARS;
  const clauses = [
    constant(100, term('search_cn.name.exact', q)),
    constant(80, term('search_cn.aliases.exact', q)),
    constant(40, term('tags', q)),
    constant(30, term('search_cn.name.prefix', q)),
    constant(25, term('search_cn.aliases.prefix', q)),
    // Not constant: a document with two terms (三甲 and 妇幼) outranks one with either.
    ...(short ? [{ match: { 'search_cn.terms': { query: q, boost: 4 } } }] : []),
    { match: { 'search_cn.name': { query: q, minimum_should_match: '2<75%', boost: 3 } } },
    { match: { 'search_cn.aliases': { query: q, minimum_should_match: '2<75%', boost: 2 } } },
  ];
  if ([...q].length === 1) clauses.push(constant(5, { match: { 'search_cn.name.chars': q } }));
  return clauses;
}

export interface InstitutionQueryInput {
  q: string;
  city?: string | undefined;
}

/** The folded form a query is matched and cached under (so 醫院 and 医院 share a cache entry). */
export const normaliseQuery = (q: string): string => {
  const folded = foldText(q);
  return isLatinQuery(folded) ? compactLatin(folded) : folded;
};

/**
 * The search query: one relevance clause must match; a city or district named in the query only
 * raises a match (北京三甲: 三甲 institutions, Beijing's first); the active/city filter; then level
 * and rating as tie-breakers.
 */
export function institutionSearchQuery(input: InstitutionQueryInput): Query {
  const q = normaliseQuery(input.q);
  const latin = isLatinQuery(q);
  return {
    function_score: {
      query: {
        bool: {
          must: { bool: { should: latin ? latinClauses(q) : hanClauses(q), minimum_should_match: 1 } },
          should:
            latin || [...q].length > TERMS_MAX_CHARS
              ? []
              : [{ match: { 'search_cn.places': { query: q, boost: 6 } } }],
          filter: [term('status', 'active'), ...(input.city ? [term('city', input.city)] : [])],
        },
      },
      functions: [
        { field_value_factor: { field: 'search_cn.level_rank', factor: 0.6, missing: 0 } },
        { field_value_factor: { field: 'rating', factor: 0.5, missing: 0 } },
      ],
      score_mode: 'sum',
      boost_mode: 'sum',
    },
  };
}

/** As-you-type: prefixes of names, aliases, pinyin and initials only (no bigram matching). */
export function institutionSuggestQuery(input: InstitutionQueryInput): Query {
  const q = normaliseQuery(input.q);
  const clauses = isLatinQuery(q)
    ? [
        constant(30, term('search_cn.pinyin.prefix', q)),
        constant(20, term('search_cn.initials.prefix', q)),
        constant(10, term('search_cn.pinyin_parts.prefix', q)),
      ]
    : [
        constant(30, term('search_cn.name.prefix', q)),
        constant(20, term('search_cn.aliases.prefix', q)),
        constant(10, term('tags', q)),
      ];
  return {
    function_score: {
      query: {
        bool: {
          should: clauses,
          minimum_should_match: 1,
          filter: [term('status', 'active'), ...(input.city ? [term('city', input.city)] : [])],
        },
      },
      functions: [
        { field_value_factor: { field: 'search_cn.level_rank', factor: 0.6, missing: 0 } },
        { field_value_factor: { field: 'rating', factor: 0.5, missing: 0 } },
      ],
      score_mode: 'sum',
      boost_mode: 'sum',
    },
  };
}
