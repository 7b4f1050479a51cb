/**
 * GET /v1/search/institutions: Chinese full-text search (names, aliases, pinyin, initials,
 * traditional folded to simplified, abbreviations; the query is platform/search/institution-query.ts,
 * docs/adr/0017-chinese-search.md), answered through the in-process cache like the
 * pages (and so by the fast path once warm). A result is kept for QUERY_SEARCH_TTL_MS, concurrent
 * identical searches share one engine call (lru-cache's fetch), and a change to any institution
 * in a result invalidates it: its deps are the institutions' Redis documents, whose keyspace
 * notifications every instance already follows (cache/invalidation.ts). The index is written by
 * its own projector, so a result loaded right after such a change is kept only
 * QUERY_SEARCH_SETTLE_MS (the index may not have caught up yet). Institutions that start to
 * match a query are seen when the TTL runs out. docs/adr/0005-query-caching.md.
 */
import type { Request, RequestHandler, Response } from 'express';
import type { Counter } from 'prom-client';
import { AppError } from '../platform/http/errors.ts';
import { parseOrThrow } from '../platform/http/zod-problem.ts';
import { SearchUnavailableError, type SearchEngine } from '../platform/search/index.ts';
import { institutionSearchQuery, normaliseQuery } from '../platform/search/institution-query.ts';
import { publish } from '../read-models/published-columns.ts';
import { makeCachedResponse } from './cache/cached-response.ts';
import { sendCached } from './cache/send-cached.ts';
import type { TwoLevelCache } from './cache/two-level-cache.ts';
import type { QueryApiConfig } from './config.ts';
import { decodeCursor, encodeCursor, queryFingerprint } from './cursor.ts';
import type { FastRoutes } from './fast-path.ts';
import type { CatalogReader } from './read-models/catalog-reader.ts';
import { searchInstitutionsRoute } from './route-specs.ts';

export interface SearchRouteDeps {
  cache: TwoLevelCache;
  catalog: CatalogReader;
  search: SearchEngine;
  searchAlias: string;
  config: Pick<QueryApiConfig, 'QUERY_SEARCH_TTL_MS' | 'QUERY_SEARCH_SETTLE_MS'>;
  outcomes: Counter<'route' | 'outcome'>;
  fastRoutes: FastRoutes;
}

type Cursor = (string | number)[];

/** The cursor of a search page: [score, id] numbers, anything else would fail in the engine. */
function searchAfter(raw: string | undefined, fingerprint: string): Cursor | undefined {
  const after = decodeCursor(raw, fingerprint);
  if (after && !(after.length === 2 && after.every((v) => typeof v === 'number' && Number.isFinite(v)))) {
    throw new AppError('bad_parameter', 'Invalid cursor', {
      invalidParams: [{ name: 'cursor', reason: 'not a cursor returned by this API' }],
    });
  }
  return after;
}

/** Engine down or the alias missing: a 503 to retry, never a 500. */
export function searchUnavailable(err: unknown): never {
  if (
    err instanceof SearchUnavailableError ||
    (err as { meta?: { statusCode?: number } }).meta?.statusCode === 404
  ) {
    throw new AppError('dependency_unavailable', 'Search is unavailable; retry shortly', {
      headers: { 'Retry-After': '5' },
      cause: err,
    });
  }
  throw err;
}

export function searchHandler(deps: SearchRouteDeps): RequestHandler {
  const route = searchInstitutionsRoute.path;
  return async (req: Request, res: Response) => {
    const q = parseOrThrow(searchInstitutionsRoute.query, req.query, 'bad_parameter');
    // Folded (醫院 → 医院, Ｔianjin → tianjin): spellings of one query share a cache entry and cursor.
    const text = normaliseQuery(q.q);
    const fingerprint = queryFingerprint({ q: text, city: q.city });
    const after = searchAfter(q.cursor, fingerprint);
    const key = `search:${JSON.stringify([text, q.city ?? null, q.limit, after ?? null])}`;
    const load = async () => {
      const result = await deps.search
        .search<Record<string, unknown>>(deps.searchAlias, {
          query: institutionSearchQuery({ q: text, city: q.city }),
          sort: [{ _score: 'desc' }, { id: 'asc' }],
          size: q.limit + 1,
          ...(after ? { searchAfter: after } : {}),
        })
        .catch(searchUnavailable);
      const hits = result.hits.slice(0, q.limit);
      const last = hits.at(-1);
      const payload = {
        total: result.total,
        items: hits.map((h) => ({ ...publish('institutions', h.source), score: h.score })),
        nextCursor:
          result.hits.length > q.limit && last?.sort ? encodeCursor(fingerprint, last.sort as Cursor) : null,
      };
      const ids = hits
        .map((h) => h.source.id)
        .filter((id) => typeof id === 'string' || typeof id === 'number');
      return makeCachedResponse(
        payload,
        ids.map((id) => deps.catalog.keys.doc('institutions', id)),
      );
    };
    const result = await deps.cache
      .get(key, load, {
        ttlMs: deps.config.QUERY_SEARCH_TTL_MS,
        settleMs: deps.config.QUERY_SEARCH_SETTLE_MS,
      })
      .catch((err: unknown) => {
        deps.outcomes.inc({ route, outcome: 'l2-error' });
        throw err;
      });
    deps.outcomes.inc({ route, outcome: result.outcome });
    const stale = result.outcome === 'l1-stale-fallback' ? 'search-unavailable' : undefined;
    if (!stale) deps.fastRoutes.remember(req.originalUrl, key, route);
    sendCached(req, res, result.entry, { outcome: result.outcome, stale });
  };
}
