import { BULK_FILTER_PATH, summariseBulk, toBulkBody } from './bulk-lines.ts';
import { withLayout, type IndexLayout } from './index-layout.ts';
import type { RawTransport } from './raw-transport.ts';
import {
  SearchUnavailableError,
  type IndexDefinition,
  type Query,
  type SearchEngine,
  type SearchRequest,
  type SearchResult,
} from './search-engine.ts';

const UNAVAILABLE = new Set([
  'ConnectionError',
  'TimeoutError',
  'NoLivingConnectionsError',
  'RequestAbortedError',
]);

function mapError(err: unknown): unknown {
  const name = (err as { name?: string } | null)?.name;
  const status = (err as { meta?: { statusCode?: number } } | null)?.meta?.statusCode;
  if ((name && UNAVAILABLE.has(name)) || status === 502 || status === 503 || status === 504) {
    return new SearchUnavailableError(`search engine unavailable: ${(err as Error).message}`, { cause: err });
  }
  return err;
}

interface HitsBody {
  hits: {
    total?: number | { value: number };
    hits: { _id: string; _score?: number | null; _source: unknown; sort?: unknown[] }[];
  };
  aggregations?: Record<string, unknown>;
}

const enc = encodeURIComponent;

interface ScrollBody {
  _scroll_id?: string;
  hits: { hits: { _id: string; _version?: number; _source: unknown }[] };
}

interface ClearHit {
  _index: string;
  _id: string;
  _version: number;
  _source: Record<string, unknown>;
}

/**
 * The search port, written once over either official client's transport. `layout`: the
 * environment's shards, replicas and refresh interval, applied to every index it creates.
 */
export function searchEngineOver(transport: RawTransport, layout?: IndexLayout): SearchEngine {
  const send = async (...args: Parameters<RawTransport['request']>) => {
    try {
      return await transport.request(...args);
    } catch (err) {
      throw mapError(err);
    }
  };

  /**
   * Re-indexes what `query` matches with `fields` set, 500 at a time, each at its own version
   * (external_gte), until nothing matches. A concurrent write that bumps a document between search
   * and re-index is a conflict: that document is found again in the next round.
   */
  async function reindexWhere(index: string, query: Query, fields: Record<string, unknown>) {
    let changed = 0;
    for (let idle = 0; idle < 10;) {
      await send({ method: 'POST', path: `/${enc(index)}/_refresh` });
      const { body } = await send({
        method: 'POST',
        path: `/${enc(index)}/_search`,
        body: { query, size: 500, version: true },
      });
      const hits = (body as { hits: { hits: ClearHit[] } }).hits.hits;
      if (hits.length === 0) return changed;
      const bulkBody = hits.flatMap((h) => [
        { index: { _index: h._index, _id: h._id, version: h._version, version_type: 'external_gte' } },
        { ...h._source, ...fields },
      ]);
      const result = await send({
        method: 'POST',
        path: '/_bulk',
        querystring: { refresh: 'true' },
        bulkBody,
      });
      const items = (result.body as { items: Parameters<typeof summariseBulk>[0] }).items;
      const { applied, failures } = summariseBulk(items);
      const failed = failures.find((f) => f.status !== 409);
      if (failed) throw new Error(`re-indexing ${failed.id} in ${index} failed: ${failed.reason}`);
      changed += applied;
      idle = applied === 0 ? idle + 1 : 0;
    }
    throw new Error(`re-indexing matches in ${index} kept conflicting`);
  }

  return {
    kind: transport.kind,
    async health() {
      const { body } = await send({ method: 'GET', path: '/_cluster/health' });
      return (body as { status: string }).status.toLowerCase() as 'green' | 'yellow' | 'red';
    },
    async indexExists(index) {
      const { status } = await send({ method: 'HEAD', path: `/${enc(index)}` }, [404]);
      return status === 200;
    },
    async createIndex(index: string, definition: IndexDefinition) {
      const { status, body } = await send(
        { method: 'PUT', path: `/${enc(index)}`, body: withLayout(definition, layout) },
        [400],
      );
      if (status === 400) {
        if (JSON.stringify(body).includes('resource_already_exists_exception')) return false;
        throw new Error(`creating index ${index} failed: ${JSON.stringify(body)}`);
      }
      return true;
    },
    async deleteIndex(index) {
      await send(
        { method: 'DELETE', path: `/${enc(index)}`, querystring: { ignore_unavailable: 'true' } },
        [404],
      );
    },
    async aliasTargets(alias) {
      const { status, body } = await send({ method: 'GET', path: `/_alias/${enc(alias)}` }, [404]);
      return status === 404 ? [] : Object.keys(body as Record<string, unknown>);
    },
    async swapAlias(alias, index) {
      const current = await this.aliasTargets(alias);
      await send({
        method: 'POST',
        path: '/_aliases',
        body: {
          actions: [...current.map((old) => ({ remove: { index: old, alias } })), { add: { index, alias } }],
        },
      });
    },
    async bulk(operations, opts = {}) {
      if (operations.length === 0) return { applied: 0, stale: 0, failures: [] };
      const { body } = await send({
        method: 'POST',
        path: '/_bulk',
        querystring: { refresh: opts.refresh ? 'true' : 'false', filter_path: BULK_FILTER_PATH },
        bulkBody: toBulkBody(operations),
      });
      return summariseBulk((body as { items: Parameters<typeof summariseBulk>[0] }).items);
    },
    async search<T>(index: string, req: SearchRequest): Promise<SearchResult<T>> {
      const { body } = await send({
        method: 'POST',
        path: `/${enc(index)}/_search`,
        body: {
          query: req.query,
          ...(req.size !== undefined ? { size: req.size } : {}),
          ...(req.sort ? { sort: req.sort } : {}),
          ...(req.searchAfter ? { search_after: req.searchAfter } : {}),
          ...(req.aggs ? { aggs: req.aggs } : {}),
          track_total_hits: req.trackTotalHits ?? true,
        },
      });
      const { hits, aggregations } = body as HitsBody;
      const total = hits.total;
      return {
        total: typeof total === 'number' ? total : (total?.value ?? 0),
        hits: hits.hits.map((h) => ({
          id: h._id,
          score: h._score ?? null,
          source: h._source as T,
          ...(h.sort ? { sort: h.sort } : {}),
        })),
        ...(aggregations ? { aggregations } : {}),
      };
    },
    async get<T>(index: string, id: string) {
      const { status, body } = await send({ method: 'GET', path: `/${enc(index)}/_doc/${enc(id)}` }, [404]);
      if (status === 404) return null;
      const doc = body as { _source: T; _version: number; found: boolean };
      return doc.found ? { source: doc._source, version: doc._version } : null;
    },
    async count(index: string, query?: Query) {
      const { body } = await send({
        method: 'POST',
        path: `/${enc(index)}/_count`,
        body: query ? { query } : {},
      });
      return (body as { count: number }).count;
    },
    async *scan<T>(index: string, opts: { pageSize?: number } = {}) {
      let { body } = await send({
        method: 'POST',
        path: `/${enc(index)}/_search`,
        querystring: { scroll: '1m' },
        body: { query: { match_all: {} }, sort: ['_doc'], size: opts.pageSize ?? 500, version: true },
      });
      let page = body as ScrollBody;
      try {
        while (page.hits.hits.length > 0) {
          yield page.hits.hits.map((h) => ({
            id: h._id,
            score: null,
            source: h._source as T,
            ...(h._version !== undefined ? { version: h._version } : {}),
          }));
          ({ body } = await send({
            method: 'POST',
            path: '/_search/scroll',
            body: { scroll: '1m', scroll_id: page._scroll_id },
          }));
          page = body as ScrollBody;
        }
      } finally {
        if (page._scroll_id) {
          await send(
            { method: 'DELETE', path: '/_search/scroll', body: { scroll_id: page._scroll_id } },
            [404],
          );
        }
      }
    },
    async refresh(index) {
      await send({ method: 'POST', path: `/${enc(index)}/_refresh` });
    },
    clearField(index, field, value) {
      return reindexWhere(index, { term: { [field]: value } }, { [field]: null });
    },
    updateWhere(index, query, fields) {
      return reindexWhere(index, query, fields);
    },
    close: () => transport.close(),
  };
}
