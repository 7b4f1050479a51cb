/**
 * The institutions search index: a versioned index (`<alias>_v<N>`) behind the alias readers use.
 *
 * Known columns are mapped explicitly: names with the `cjk` analyzer (bigrams, so 协和 matches
 * 北京协和医院) plus a keyword sub-field, filters as keywords, `location` as a geo_point. The root
 * stays `dynamic: true` with templates, so a column added to `institutions` lands in the index
 * with the next change of a row and no mapping change: strings become text (cjk) + keyword,
 * numbers long/double, booleans boolean. Date and numeric detection are off, so a new column's
 * type never depends on what its first value happens to look like.
 *
 * Chinese search reads `search_cn`, fields derived in Node at indexing time (pinyin, initials,
 * folded names, terms) with the analyzers of platform/search/institution-analysis.ts (ADR 0017).
 * A change that is not additive means a new version: bump INSTITUTIONS_INDEX_VERSION and the
 * projector rebuilds behind the alias at start (ensureInstitutionsIndex).
 */
import type { IndexDefinition, SearchEngine } from '../../platform/search/index.ts';
import { rebuildBehindAlias } from '../../platform/search/alias-rebuild.ts';
import { chineseIndexSettings, searchCnMapping } from '../../platform/search/institution-analysis.ts';
import { withSearchCn } from '../../platform/search/institution-document.ts';

/** 2: the Chinese search fields (search_cn: pinyin, initials, n-grams, synonyms; ADR 0017). */
export const INSTITUTIONS_INDEX_VERSION = 2;

const cjkText = {
  type: 'text',
  analyzer: 'cjk',
  fields: { keyword: { type: 'keyword', ignore_above: 256 } },
};

export const institutionsIndexDefinition: IndexDefinition = {
  settings: {
    // Defaults: the environment's SEARCH_SHARDS / SEARCH_REPLICAS / SEARCH_REFRESH_INTERVAL
    // replace these three when the index is created (platform/search/index-layout.ts, ADR 0022).
    number_of_shards: 1,
    number_of_replicas: 0,
    refresh_interval: '1s',
    // How long a deleted id's version is remembered (external versioning): a replayed older
    // write arriving later than this could bring the document back.
    'index.gc_deletes': '1h',
    ...chineseIndexSettings,
  },
  mappings: {
    dynamic: true,
    date_detection: false,
    numeric_detection: false,
    dynamic_templates: [
      { strings: { match_mapping_type: 'string', mapping: cjkText } },
      { integers: { match_mapping_type: 'long', mapping: { type: 'long' } } },
      { reals: { match_mapping_type: 'double', mapping: { type: 'double' } } },
    ],
    properties: {
      id: { type: 'long' },
      name: cjkText,
      alias_names: cjkText,
      city: { type: 'keyword' },
      district: { type: 'keyword' },
      address: { type: 'text', analyzer: 'cjk' },
      level: { type: 'keyword' },
      type: { type: 'keyword' },
      tags: { type: 'keyword' },
      rating: { type: 'scaled_float', scaling_factor: 100 },
      latitude: { type: 'double' },
      longitude: { type: 'double' },
      location: { type: 'geo_point' },
      status: { type: 'keyword' },
      created_at: { type: 'date' },
      updated_at: { type: 'date' },
      search_cn: searchCnMapping,
    },
  },
};

export const versionedIndexName = (alias: string, version = INSTITUTIONS_INDEX_VERSION): string =>
  `${alias}_v${version}`;

/**
 * Creates `<alias>_v<version>` if needed and points the alias at it. On a first start (no alias)
 * that is all; when the alias points at an older version (the analysis changed), the documents
 * are copied over with their Chinese fields recomputed and the alias swapped atomically before
 * the projector writes (platform/search/alias-rebuild.ts), so readers never see a gap. The
 * projector then resumes from its committed offsets into the new index.
 */
export async function ensureInstitutionsIndex(
  search: SearchEngine,
  alias: string,
  version = INSTITUTIONS_INDEX_VERSION,
  opts: { graceMs?: number } = {},
): Promise<{ index: string; created: boolean; aliased: boolean; rebuiltFrom: string[] }> {
  const index = versionedIndexName(alias, version);
  const created = await search.createIndex(index, institutionsIndexDefinition);
  const targets = await search.aliasTargets(alias);
  if (targets.length === 1 && targets[0] === index) return { index, created, aliased: true, rebuiltFrom: [] };
  const { from } = await rebuildBehindAlias({
    search,
    alias,
    target: index,
    definition: institutionsIndexDefinition,
    transform: withSearchCn,
    ...opts,
  });
  return { index, created, aliased: true, rebuiltFrom: from };
}
