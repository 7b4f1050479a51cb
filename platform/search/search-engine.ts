/**
 * The one search port of the platform. Production runs Elasticsearch 8, the local engine is
 * OpenSearch 2.19; both speak the same query DSL, so index definitions and queries are plain
 * objects written once and handed to whichever driver the config selects.
 */
export type SearchKind = 'opensearch' | 'elasticsearch';

export interface IndexDefinition {
  settings?: Record<string, unknown>;
  mappings: Record<string, unknown>;
  /** Aliases the index joins when it is created (atomically: never an index outside its alias). */
  aliases?: Record<string, Record<string, unknown>>;
}

export type Query = Record<string, unknown>;

export interface SearchRequest {
  query: Query;
  size?: number;
  sort?: unknown[];
  /** Keyset pagination: the `sort` values of the last hit of the previous page. */
  searchAfter?: unknown[];
  trackTotalHits?: boolean;
  aggs?: Record<string, unknown>;
}

export interface SearchHit<T> {
  id: string;
  score: number | null;
  source: T;
  sort?: unknown[];
  /** The document's version (only from `scan`). */
  version?: number;
}

export interface SearchResult<T> {
  total: number;
  hits: SearchHit<T>[];
  aggregations?: Record<string, unknown>;
}

/**
 * A bulk operation. With `version`, the engine applies it only if newer than what it holds
 * (external versioning): redelivered or replayed writes become harmless conflicts.
 */
export type BulkOperation =
  | { action: 'index'; index: string; id: string; document: Record<string, unknown>; version?: number }
  | { action: 'delete'; index: string; id: string; version?: number };

export interface BulkResult {
  applied: number;
  /** Version conflicts: the engine already held this version or a newer one. */
  stale: number;
  failures: { id: string; status: number; reason: string }[];
}

export interface SearchEngine {
  readonly kind: SearchKind;
  health(): Promise<'green' | 'yellow' | 'red'>;
  indexExists(index: string): Promise<boolean>;
  /** Creates the index if it does not exist; returns whether it created it. */
  createIndex(index: string, definition: IndexDefinition): Promise<boolean>;
  deleteIndex(index: string): Promise<void>;
  /** Indices the alias points at (empty when the alias does not exist). */
  aliasTargets(alias: string): Promise<string[]>;
  /** Points the alias at exactly `index`, removing every other target, in one atomic request. */
  swapAlias(alias: string, index: string): Promise<void>;
  bulk(operations: BulkOperation[], opts?: { refresh?: boolean }): Promise<BulkResult>;
  search<T>(index: string, request: SearchRequest): Promise<SearchResult<T>>;
  get<T>(index: string, id: string): Promise<{ source: T; version: number } | null>;
  count(index: string, query?: Query): Promise<number>;
  /**
   * Every document of `index` with its version, page by page (a scroll, which both engines
   * speak alike): what a rebuild copies into a new index.
   */
  scan<T>(index: string, opts?: { pageSize?: number }): AsyncIterable<SearchHit<T>[]>;
  refresh(index: string): Promise<void>;
  /**
   * Sets `field` to null in every document of `index` (an alias or index) whose `field` is
   * exactly `value`; returns how many it changed. Each document is re-indexed at the version it
   * has (external_gte), so external versioning of later writes is undisturbed — unlike
   * _update_by_query, which would bump the version past the next event's. Refreshes first, so
   * documents written just before are found.
   */
  clearField(index: string, field: string, value: string): Promise<number>;
  /**
   * Sets `fields` (top-level) in every document of `index` (an alias or index) that `query`
   * matches, re-indexing each at the version it has (external_gte) like `clearField`, and returns
   * how many it changed. `query` must stop matching a document once it is patched (e.g. a
   * `must_not` on the new values): the call pages until nothing matches.
   */
  updateWhere(index: string, query: Query, fields: Record<string, unknown>): Promise<number>;
  close(): Promise<void>;
}

export class SearchUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SearchUnavailableError';
  }
}
