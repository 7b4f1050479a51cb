/**
 * The query API's caches over the real catalog pipeline (PostgreSQL → Debezium → Kafka → CDC
 * projectors → Redis / search): a cached search result is invalidated by a catalog change to an
 * institution in it, and tracking tags neither break a request nor split the cache.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createCatalogPipeline,
  insertInstitution,
  waitForSnapshotDrained,
  type CatalogPipeline,
} from '../support/catalog-pipeline.ts';
import { startQueryInstance, type QueryInstance } from '../support/query-api-harness.ts';
import { testConfig } from '../support/test-config.ts';
import { uniqueName, waitFor } from '../support/wait.ts';

interface SearchPage {
  items: { id: number; name: string }[];
}

describe('query API caches over the CDC-filled read models', () => {
  const config = testConfig();
  let p: CatalogPipeline;
  let api: QueryInstance;
  const ids: number[] = [];
  const city = uniqueName('缓存键市');
  const q = encodeURIComponent;

  beforeAll(async () => {
    p = await createCatalogPipeline(config, { tag: 'qcache' });
    await p.applyConnector();
    await p.startProjection();
    await waitForSnapshotDrained(p);
    // Long TTLs: within them only an invalidation can bring a change.
    api = await startQueryInstance(config, {
      catalogPrefix: p.keys.prefix,
      searchAlias: p.alias,
      readModelRoot: uniqueName('rm'),
      queryConfig: { QUERY_L1_TTL_MS: 600_000, QUERY_SEARCH_TTL_MS: 600_000, QUERY_REDIS_TIMEOUT_MS: 1000 },
    });
  }, 240_000);

  afterAll(async () => {
    await api?.close();
    if (p && ids.length) await p.db.query('DELETE FROM institutions WHERE id = ANY($1)', [ids]);
    await p?.cleanup();
  });

  it('serves a repeated search from memory and reloads it after CDC brings a change to one of its institutions', async () => {
    const id = await insertInstitution(p.db, { name: '缓存搜索医院', city, rating: 3.1 });
    ids.push(id);
    await waitFor(
      async () => {
        await p.search.refresh(p.alias);
        return (await p.search.count(p.alias, { term: { id } })) === 1 ? true : undefined;
      },
      { timeoutMs: 60_000, what: 'the institution in the search index' },
    );
    const path = `/v1/search/institutions?q=${q('缓存搜索')}&city=${q(city)}`;
    const first = await api.get(path);
    expect(first.status).toBe(200);
    expect(((await first.json()) as SearchPage).items.map((i) => i.name)).toEqual(['缓存搜索医院']);
    const second = await api.get(path);
    expect(second.headers.get('x-cache')).toBe('l1-hit');
    await second.arrayBuffer();
    // Identical searches at once: all answered, from one cached entry.
    const etags = await Promise.all(
      Array.from({ length: 10 }, async () => (await api.get(path)).headers.get('etag')),
    );
    expect(new Set(etags).size).toBe(1);

    await p.db.query(`UPDATE institutions SET name = '缓存搜索医院分院', updated_at = now() WHERE id = $1`, [
      id,
    ]);
    // With a 10-minute TTL, only the invalidation (the institution's Redis document changed) and
    // the settle reload (the search index may trail Redis) can bring the new name this soon.
    const changed = await waitFor(
      async () => {
        const page = (await (await api.get(path)).json()) as SearchPage;
        return page.items[0]?.name === '缓存搜索医院分院' ? page : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250, what: 'the new name in the cached search' },
    );
    expect(changed.items.map((i) => i.id)).toEqual([id]);
  });

  it('answers with tracking tags and in any parameter order from the one cached entry', async () => {
    const id = await insertInstitution(p.db, { name: '追踪参数医院', city, rating: 2.5 });
    ids.push(id);
    await waitFor(async () => ((await p.reader.get('institutions', String(id))) ? true : undefined), {
      timeoutMs: 60_000,
      what: 'the row in Redis',
    });
    const list = `/v1/institutions?city=${q(city)}&limit=5`;
    const first = await api.get(list);
    expect(first.status).toBe(200);
    const etag = first.headers.get('etag');
    await first.arrayBuffer();
    for (const variant of [
      `/v1/institutions?limit=5&city=${q(city)}`,
      `/v1/institutions?utm_source=wechat&city=${q(city)}&limit=5&fbclid=IwAR0abc`,
      `/v1/institutions?city=${q(city)}&utm_medium=share&limit=5&utm_campaign=${Date.now()}`,
    ]) {
      const res = await api.get(variant);
      expect(res.status, variant).toBe(200);
      expect(res.headers.get('x-cache'), variant).toBe('l1-hit');
      expect(res.headers.get('etag'), variant).toBe(etag);
      await res.arrayBuffer();
    }
    // A first request that carries tags is validated and cached under the canonical form.
    const tagged = await api.get(`/v1/institutions/${id}?gclid=xyz&utm_source=app`);
    expect(tagged.status).toBe(200);
    await tagged.arrayBuffer();
    const plain = await api.get(`/v1/institutions/${id}`);
    expect(plain.headers.get('x-cache')).toBe('l1-hit');
    await plain.arrayBuffer();
    // A search with tags too.
    const search = await api.get(`/v1/search/institutions?q=${q('追踪参数')}&utm_source=x`);
    expect(search.status).toBe(200);
    await search.arrayBuffer();
    // A mistyped parameter is still refused, naming it.
    const typo = await api.get(`/v1/institutions?city=${q(city)}&limt=5`);
    expect(typo.status).toBe(400);
    const problem = (await typo.json()) as { 'invalid-params': { name: string }[] };
    expect(problem['invalid-params'].map((x) => x.name)).toEqual(['limt']);
  });
});
