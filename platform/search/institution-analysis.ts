/**
 * The analysis of the institutions index's Chinese search fields (`search_cn.*`), built-in
 * components only, so the same definition works on OpenSearch 2 and Elasticsearch 8 without
 * plugins. The text arrives pre-folded (simplified, lower case) and with its pinyin from
 * chinese-text.ts; the engine adds n-grams and the synonym expansion of terms.
 *
 *   cn_bigram   cjk bigrams (word-like matches, one-character typos still share most bigrams)
 *   cn_prefix   edge n-grams 1–32 of the whole value, searched as one keyword: prefix and
 *               single-character matches of names, pinyin and initials
 *   cn_char     one token per Han character (standard tokenizer): a character anywhere
 *   cn_terms    whole terms (level, type, tags; city, district) plus their synonyms; searched
 *               with every 2–8 character n-gram of the query, so 北京三甲医院 finds the term 三甲
 */
import { SYNONYM_RULES } from './chinese-text.ts';

export const chineseAnalysis = {
  filter: {
    cn_edge: { type: 'edge_ngram', min_gram: 1, max_gram: 32 },
    cn_synonyms: { type: 'synonym', synonyms: [...SYNONYM_RULES] },
  },
  tokenizer: {
    cn_query_grams: { type: 'ngram', min_gram: 2, max_gram: 8, token_chars: [] },
  },
  analyzer: {
    cn_bigram: { type: 'custom', tokenizer: 'standard', filter: ['cjk_width', 'lowercase', 'cjk_bigram'] },
    cn_prefix: { type: 'custom', tokenizer: 'keyword', filter: ['lowercase', 'cn_edge'] },
    cn_keyword: { type: 'custom', tokenizer: 'keyword', filter: ['lowercase'] },
    cn_char: { type: 'custom', tokenizer: 'standard', filter: ['lowercase'] },
    cn_terms: { type: 'custom', tokenizer: 'keyword', filter: ['lowercase', 'cn_synonyms'] },
    cn_terms_query: { type: 'custom', tokenizer: 'cn_query_grams', filter: ['lowercase'] },
  },
};

/** Names and aliases: bigrams, exact, prefix and single characters. */
const cnName = {
  type: 'text',
  analyzer: 'cn_bigram',
  fields: {
    exact: { type: 'keyword', ignore_above: 256 },
    prefix: { type: 'text', analyzer: 'cn_prefix', search_analyzer: 'cn_keyword' },
    chars: { type: 'text', analyzer: 'cn_char' },
  },
};

/** Pinyin and initials: exact and prefix. */
const cnLatin = {
  type: 'keyword',
  ignore_above: 256,
  fields: { prefix: { type: 'text', analyzer: 'cn_prefix', search_analyzer: 'cn_keyword' } },
};

export const searchCnMapping = {
  type: 'object',
  dynamic: 'strict',
  properties: {
    name: cnName,
    aliases: cnName,
    /** Full pinyin of the name, joined (tianjinshidiyirenminyiyuan). */
    pinyin: cnLatin,
    /** Per-syllable tokens of name and aliases (tian jin shi …). */
    syllables: { type: 'text', analyzer: 'whitespace' },
    /** Full pinyin of each alias, and every syllable-aligned suffix of name and aliases. */
    pinyin_parts: cnLatin,
    /** Initials of the name (tjsdyrmyy). */
    initials: cnLatin,
    /** Initials of the aliases and the suffixes of the name's initials. */
    initials_parts: cnLatin,
    terms: { type: 'text', analyzer: 'cn_terms', search_analyzer: 'cn_terms_query' },
    /** City and district: they raise a match (北京三甲), they never make one on their own. */
    places: { type: 'text', analyzer: 'cn_terms', search_analyzer: 'cn_terms_query' },
    /** 6 for 三级甲等 … 1 for 未定级: a ranking signal after relevance. */
    level_rank: { type: 'integer' },
  },
};

/** Index settings the analysis needs (n-gram spans wider than the default max_ngram_diff of 1). */
export const chineseIndexSettings = { max_ngram_diff: 32, analysis: chineseAnalysis };
