/**
 * GET /v1/search/suggest?q=&city=: as-you-type suggestions (names of active institutions whose
 * name, alias, pinyin or initials start with what was typed; ADR 0017). Small (≤ 10 items of four
 * fields), served through the same cache as search, under the folded query, so 醫 and 医 share an
 * entry and a change to a suggested institution invalidates it.
 */
import type { Request, RequestHandler, Response } from 'express';
import { parseOrThrow } from '../platform/http/zod-problem.ts';
import { institutionSuggestQuery, normaliseQuery } from '../platform/search/institution-query.ts';
import { makeCachedResponse } from './cache/cached-response.ts';
import { sendCached } from './cache/send-cached.ts';
import type { SearchRouteDeps } from './search-route.ts';
import { searchUnavailable } from './search-route.ts';
import { suggestInstitutionsRoute } from './suggest-route-spec.ts';

interface Suggested {
  id: number;
  name: string;
  city: string;
  level?: string | null;
}

export function suggestHandler(deps: SearchRouteDeps): RequestHandler {
  const route = suggestInstitutionsRoute.path;
  return async (req: Request, res: Response) => {
    const q = parseOrThrow(suggestInstitutionsRoute.query, req.query, 'bad_parameter');
    const text = normaliseQuery(q.q);
    const key = `suggest:${JSON.stringify([text, q.city ?? null, q.limit])}`;
    const load = async () => {
      const result = await deps.search
        .search<Suggested>(deps.searchAlias, {
          query: institutionSuggestQuery({ q: text, city: q.city }),
          sort: [{ _score: 'desc' }, { id: 'asc' }],
          size: q.limit,
          trackTotalHits: false,
        })
        .catch(searchUnavailable);
      const items = result.hits.map(({ source: s }) => ({
        id: s.id,
        name: s.name,
        city: s.city,
        level: s.level ?? null,
      }));
      return makeCachedResponse(
        { items },
        items.map((i) => deps.catalog.keys.doc('institutions', i.id)),
      );
    };
    const result = await deps.cache.get(key, load, {
      ttlMs: deps.config.QUERY_SEARCH_TTL_MS,
      settleMs: deps.config.QUERY_SEARCH_SETTLE_MS,
    });
    deps.outcomes.inc({ route, outcome: result.outcome });
    const stale = result.outcome === 'l1-stale-fallback' ? 'search-unavailable' : undefined;
    if (!stale) deps.fastRoutes.remember(req.originalUrl, key, route);
    sendCached(req, res, result.entry, { outcome: result.outcome, stale });
  };
}
