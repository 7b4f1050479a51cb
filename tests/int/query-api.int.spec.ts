/**
 * The query API against read models filled by the real catalog pipeline:
 * PostgreSQL → Debezium → Kafka → CDC projectors → Redis / search → two query-api instances.
 */
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memberId } from '../../read-models/catalog.ts';
import { queryFingerprint } from '../../query-api/cursor.ts';
import {
  createCatalogPipeline,
  insertInstitution,
  waitForSnapshotDrained,
  type CatalogPipeline,
} from '../support/catalog-pipeline.ts';
import { startQueryInstance, type QueryInstance } from '../support/query-api-harness.ts';
import { testConfig } from '../support/test-config.ts';
import { uniqueName, waitFor } from '../support/wait.ts';

interface Institution {
  id: number;
  name: string;
  district: string;
}
interface ListPage {
  items: Institution[];
  nextCursor: string | null;
}

describe('query API over the CDC-filled read models', () => {
  const config = testConfig();
  let p: CatalogPipeline;
  let a: QueryInstance;
  let b: QueryInstance;
  const ids: number[] = [];
  const city = uniqueName('查询市');

  const redisName = async (id: number) => (await p.reader.get('institutions', String(id)))?.doc?.name;

  beforeAll(async () => {
    p = await createCatalogPipeline(config, { tag: 'qapi' });
    // The run's database starts empty: a list page far above the compression threshold needs
    // rows of its own (in a city of their own, so they crowd no other test's pages).
    const bulkCity = uniqueName('大列表市');
    for (let i = 0; i < 110; i += 1) {
      await insertInstitution(p.db, { name: `列表第${i}医院`, city: bulkCity, rating: 3 });
    }
    await p.applyConnector();
    await p.startProjection();
    await waitForSnapshotDrained(p);
    const opts = { catalogPrefix: p.keys.prefix, searchAlias: p.alias, readModelRoot: uniqueName('rm') };
    // A long TTL: only invalidation can make an instance notice a change within a second. A
    // generous Redis timeout: fail-fast behaviour is the degradation test's subject, not this one's.
    const queryConfig = { QUERY_L1_TTL_MS: 600_000, QUERY_REDIS_TIMEOUT_MS: 1000 };
    a = await startQueryInstance(config, { ...opts, queryConfig });
    b = await startQueryInstance(config, { ...opts, queryConfig });
  }, 240_000);

  afterAll(async () => {
    await a?.close();
    await b?.close();
    if (p && ids.length) await p.db.query('DELETE FROM institutions WHERE id = ANY($1)', [ids]);
    await p?.cleanup();
  });

  it('makes a change visible on every instance within 1 s of reaching Redis', async () => {
    const id = await insertInstitution(p.db, { name: '缓存人民医院', city, rating: 4.2 });
    ids.push(id);
    await waitFor(async () => ((await redisName(id)) === '缓存人民医院' ? true : undefined), {
      timeoutMs: 90_000,
      what: 'the row in Redis',
    });
    const institution = (instance: QueryInstance) =>
      instance.client.GET('/v1/institutions/{id}', { params: { path: { id: String(id) } } });
    for (const instance of [a, b]) {
      const first = await institution(instance);
      expect(first.response.status).toBe(200);
      const second = await institution(instance);
      expect(second.response.headers.get('x-cache')).toBe('l1-hit');
      expect(second.data?.institution.name).toBe('缓存人民医院');
    }

    await p.db.query('UPDATE institutions SET name = $2 WHERE id = $1', [id, '缓存人民医院（新院区）']);
    await waitFor(async () => ((await redisName(id)) === '缓存人民医院（新院区）' ? true : undefined), {
      timeoutMs: 10_000,
      intervalMs: 5,
      what: 'the update in Redis',
    });
    const inRedisAt = Date.now();
    const seenAfter = await Promise.all(
      [a, b].map((instance) =>
        waitFor(
          async () => {
            const { data } = await institution(instance);
            return data?.institution.name === '缓存人民医院（新院区）' ? Date.now() - inRedisAt : undefined;
          },
          { timeoutMs: 5_000, intervalMs: 10, what: 'the update through the query API' },
        ),
      ),
    );
    console.log(
      `[query-api] update visible on instance A after ${seenAfter[0]} ms, B after ${seenAfter[1]} ms`,
    );
    for (const ms of seenAfter) expect(ms).toBeLessThan(1000);
  });

  it('revalidates with a strong ETag and compresses when asked', async () => {
    const id = ids[0]!;
    const res = await a.get(`/v1/institutions/${id}`);
    const etag = res.headers.get('etag')!;
    expect(etag).toMatch(/^"[\w-]+"$/);
    const notModified = await a.get(`/v1/institutions/${id}`, { 'if-none-match': etag });
    expect(notModified.status).toBe(304);
    expect(await notModified.text()).toBe('');

    const getRaw = (path: string) =>
      import('node:http').then(
        (http) =>
          new Promise<{ headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
            http
              .get(`${a.baseUrl}${path}`, { headers: { 'accept-encoding': 'gzip' } }, (r) => {
                const chunks: Buffer[] = [];
                r.on('data', (c: Buffer) => chunks.push(c));
                r.on('end', () => resolve({ headers: r.headers, body: Buffer.concat(chunks) }));
              })
              .on('error', reject);
          }),
      );
    // 100 institutions make a body far above the compression threshold: it must come gzipped,
    // with its own validator.
    const big = await getRaw('/v1/institutions?limit=100');
    expect(big.headers['content-encoding']).toBe('gzip');
    expect(big.headers.etag).toMatch(/-gzip"$/);
    const page = JSON.parse(gunzipSync(big.body).toString()) as ListPage;
    expect(page.items).toHaveLength(100);

    const raw = await getRaw(`/v1/homepage?city=${encodeURIComponent(city)}`);
    const homepage = JSON.parse(
      (raw.headers['content-encoding'] === 'gzip' ? gunzipSync(raw.body) : raw.body).toString(),
    ) as { city: string; featuredInstitutions: Institution[] };
    expect(homepage.city).toBe(city);
    expect(homepage.featuredInstitutions.map((i) => i.id)).toContain(id);

    // Fast-path hits count in the same per-route histogram, and the hit ratio per level is exported.
    const metrics = await (await a.adminGet('/metrics')).text();
    const served = new RegExp(
      `http_request_duration_seconds_count\\{method="GET",route="/v1/institutions/:id",status_code="(200|304)"\\} (\\d+)`,
      'g',
    );
    const total = [...metrics.matchAll(served)].reduce((n, m) => n + Number(m[2]), 0);
    expect(total).toBeGreaterThanOrEqual(4);
    expect(metrics).toMatch(/query_cache_hit_ratio\{level="l1"\} 0\.\d+/);
    expect(metrics).toMatch(/query_cache_hit_ratio\{level="l2"\} /);
  });

  it('walks a whole list with keyset pagination, without duplicates or gaps, while rows change', async () => {
    const walkCity = uniqueName('翻页市');
    const stable: number[] = [];
    for (let i = 0; i < 40; i++) {
      stable.push(
        await insertInstitution(p.db, { name: `稳定医院${i}`, city: walkCity, rating: 1 + (i % 40) / 10 }),
      );
    }
    ids.push(...stable);
    const index = p.keys.institutionsByCity(walkCity);
    await waitFor(async () => ((await p.redis.zcard(index)) === 40 ? true : undefined), {
      timeoutMs: 30_000,
      what: '40 rows in the city index',
    });
    const expectedOrder = (await p.redis.zrange(index, '-', '+', 'BYLEX')).map((m) => Number(memberId(m)));

    // While we page: other rows of the city come and go, and stable rows change in place.
    let churning = true;
    const churned: number[] = [];
    const churn = (async () => {
      let n = 0;
      while (churning) {
        const id = await insertInstitution(p.db, {
          name: `变动医院${n}`,
          city: walkCity,
          rating: ((n * 37) % 50) / 10,
        });
        churned.push(id);
        ids.push(id);
        if (n % 2 === 1) await p.db.query('DELETE FROM institutions WHERE id = $1', [churned[n - 1]]);
        await p.db.query('UPDATE institutions SET district = $2 WHERE id = $1', [stable[n % 40], `区${n}`]);
        n += 1;
        await new Promise((r) => setTimeout(r, 15));
      }
    })();

    const seen: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: { city: string; limit: number; cursor?: string } = { city: walkCity, limit: 7 };
      if (cursor) query.cursor = cursor;
      const { data: page, response } = await (pages % 2 === 0 ? a : b).client.GET('/v1/institutions', {
        params: { query },
      });
      expect(response.status).toBe(200);
      expect(page!.items.length).toBeLessThanOrEqual(7);
      seen.push(...page!.items.map((i) => Number(i.id)));
      cursor = page!.nextCursor;
      pages += 1;
      await new Promise((r) => setTimeout(r, 40));
    } while (cursor && pages < 100);
    churning = false;
    await churn;

    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.filter((id) => stable.includes(id))).toEqual(expectedOrder);
    expect(churned.length).toBeGreaterThan(5);
  });

  it('rejects bad parameters and cursors with a problem naming the field', async () => {
    const bad = await a.get('/v1/institutions?limit=500');
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toContain('application/problem+json');
    expect(((await bad.json()) as { 'invalid-params': { name: string }[] })['invalid-params'][0]!.name).toBe(
      'limit',
    );

    // A real cursor, from a city with two rows, replayed against another city.
    const second = await insertInstitution(p.db, { name: '游标第二医院', city, rating: 1.5 });
    ids.push(second);
    await waitFor(
      async () => ((await p.redis.zcard(p.keys.institutionsByCity(city))) >= 2 ? true : undefined),
      {
        timeoutMs: 10_000,
        what: 'a second row in the city',
      },
    );
    const first = (await (
      await a.get(`/v1/institutions?city=${encodeURIComponent(city)}&limit=1`)
    ).json()) as ListPage;
    expect(first.nextCursor).toEqual(expect.any(String));
    const foreign = await a.get(
      `/v1/institutions?city=${encodeURIComponent('别的市')}&cursor=${first.nextCursor}`,
    );
    expect(foreign.status).toBe(400);
    expect(
      ((await foreign.json()) as { 'invalid-params': { name: string }[] })['invalid-params'][0]!.name,
    ).toBe('cursor');
    expect((await a.get('/v1/institutions/99999999999')).status).toBe(404);

    const named = async (path: string) => {
      const res = await a.get(path);
      expect(res.status, path).toBe(400);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      return ((await res.json()) as { 'invalid-params'?: { name: string }[] })['invalid-params']?.map(
        (p) => p.name,
      );
    };
    expect(await named(`/v1/institutions?city=x&foo=1`)).toEqual(['foo']);
    expect(await named('/v1/doctors/d1/schedules?to=2000-01-01')).toEqual(['to']);
    expect(await named('/v1/doctors/d1/schedules?from=2031-02-30')).toEqual(['from']);
    expect(
      await named(
        `/v1/search/institutions?q=x&cursor=${Buffer.from(JSON.stringify({ q: queryFingerprint({ q: 'x', city: undefined }), after: ['x'] })).toString('base64url')}`,
      ),
    ).toEqual(['cursor']);
    expect((await a.get('/v1/institutions/%E0')).status).toBe(400);
  });

  it('serves published columns only: a new column reaches Redis and the index through CDC, not the API', async () => {
    // Given a column added for internal use, and a row that carries a value in it
    await p.db.query('ALTER TABLE institutions ADD COLUMN IF NOT EXISTS internal_notes text');
    try {
      const id = await insertInstitution(p.db, { name: '内部备注医院', city, rating: 4.1 });
      ids.push(id);
      await p.db.query('UPDATE institutions SET internal_notes = $2 WHERE id = $1', [id, 'secret-note']);
      // Then CDC copies it into Redis and into the analysts' index with no code change
      await waitFor(
        async () =>
          (await p.reader.get('institutions', String(id)))?.doc?.internal_notes === 'secret-note' ||
          undefined,
        { timeoutMs: 30_000, what: 'internal_notes in the Redis document' },
      );
      await waitFor(
        async () => {
          await p.search.refresh(p.alias);
          return (await p.search.count(p.alias, { term: { 'internal_notes.keyword': 'secret-note' } })) === 1
            ? true
            : undefined;
        },
        { timeoutMs: 30_000, what: 'internal_notes in the search index' },
      );
      // But no public response carries it
      const one = await a.get(`/v1/institutions/${id}`);
      const body = (await one.json()) as { institution: Record<string, unknown> };
      expect(body.institution.name).toBe('内部备注医院');
      expect(body.institution).not.toHaveProperty('internal_notes');
      const list = await a.get(`/v1/institutions?city=${encodeURIComponent(city)}`);
      expect(list.status).toBe(200);
      expect(await list.text()).not.toContain('secret-note');
      const found = await waitFor(
        async () => {
          const res = await a.get(
            `/v1/search/institutions?q=${encodeURIComponent('内部备注')}&city=${encodeURIComponent(city)}`,
          );
          const text = await res.text();
          return text.includes(`"id":${id}`) ? text : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 200, what: 'the institution in search results' },
      );
      expect(found).not.toContain('secret-note');
      expect(found).not.toContain('internal_notes');
    } finally {
      await p.db.query('ALTER TABLE institutions DROP COLUMN IF EXISTS internal_notes');
    }
  });

  it('searches names and aliases in Chinese, filtered by city, from the projected index', async () => {
    const id = await insertInstitution(p.db, {
      name: '上海交通大学医学院附属仁济医院',
      alias_names: ['仁济', '仁济东院'],
      city,
      rating: 4.8,
    });
    ids.push(id);
    const found = await waitFor(
      async () => {
        const { data } = await a.client.GET('/v1/search/institutions', {
          params: { query: { q: '仁济', city } },
        });
        return data?.items.some((i) => i.id === id) ? data : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200, what: 'the institution in search results' },
    );
    expect(found.items.every((i) => i.city === city)).toBe(true);
  });
});
