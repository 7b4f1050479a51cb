/**
 * Catalog CDC end to end on the real engines: PostgreSQL → Debezium (Kafka Connect) → Kafka →
 * catalog projectors → Redis and the search index. One private pipeline for the file.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memberId } from '../../read-models/catalog.ts';
import {
  createCatalogPipeline,
  insertInstitution,
  type CatalogPipeline,
} from '../support/catalog-pipeline.ts';
import { testConfig } from '../support/test-config.ts';
import { uniqueName, waitFor } from '../support/wait.ts';

/** Every change must be visible in both stores within this bound. */
const VISIBLE_WITHIN_MS = 10_000;

type Doc = Record<string, unknown>;

describe('catalog CDC into Redis and search', () => {
  const config = testConfig();
  let p: CatalogPipeline;
  // A city of our own, so the city indexes hold exactly this file's institutions.
  const city = uniqueName('测试市');
  const column = uniqueName('extra_col');
  const ids: number[] = [];
  let preExisting: number;

  const redisDoc = async (id: number): Promise<Doc | null> =>
    (await p.reader.get('institutions', String(id)))?.doc ?? null;
  const searchDoc = async (id: number): Promise<Doc | null> =>
    (await p.search.get<Doc>(p.alias, String(id)))?.source ?? null;

  /** Waits until both stores satisfy `check`; returns how long that took after `since`. */
  async function visible(
    id: number,
    check: (doc: Doc | null) => boolean,
    what: string,
    since = Date.now(),
    timeoutMs = VISIBLE_WITHIN_MS,
  ): Promise<{ redisMs: number; searchMs: number }> {
    const out = { redisMs: 0, searchMs: 0 };
    await Promise.all([
      waitFor(async () => (check(await redisDoc(id)) ? (out.redisMs = Date.now() - since) : undefined), {
        timeoutMs,
        intervalMs: 20,
        what: `${what} in Redis`,
      }),
      waitFor(async () => (check(await searchDoc(id)) ? (out.searchMs = Date.now() - since) : undefined), {
        timeoutMs,
        intervalMs: 50,
        what: `${what} in search`,
      }),
    ]);
    return out;
  }

  beforeAll(async () => {
    p = await createCatalogPipeline(config, { tag: 'cdctest' });
    // A row that exists before the connector: it must arrive through the snapshot (op r).
    preExisting = await insertInstitution(p.db, { name: '快照人民医院', city, rating: 4.1 });
    ids.push(preExisting);
    await p.applyConnector();
    await p.startProjection();
  });

  afterAll(async () => {
    if (!p) return;
    await p.db.query(`ALTER TABLE institutions DROP COLUMN IF EXISTS ${column}`).catch(() => undefined);
    if (ids.length) await p.db.query('DELETE FROM institutions WHERE id = ANY($1)', [ids]);
    await p.cleanup();
  });

  it('snapshots existing rows into both stores', async () => {
    // The snapshot also reads whatever else the catalog holds (the seed, if any): a wider bound.
    await visible(preExisting, (d) => d?.name === '快照人民医院', 'the snapshotted row', Date.now(), 90_000);
    const snapshot = p.applied.find((a) => a.event.id === String(preExisting) && a.store === 'redis');
    expect(snapshot?.event.op).toBe('r');
  });

  it('reflects inserts, updates and deletes in Redis (documents and list indexes) and in the index', async () => {
    const t0 = Date.now();
    const a = await insertInstitution(p.db, {
      name: '北京协和医院',
      alias_names: ['协和', '协和医院'],
      city,
      level: '三级甲等',
      rating: 4.9,
      tags: ['医保定点'],
    });
    const b = await insertInstitution(p.db, { name: '华西医院', city, level: '二级甲等', rating: 4.5 });
    ids.push(a, b);
    const insert = await visible(a, (d) => d?.name === '北京协和医院', 'insert', t0);
    await visible(b, (d) => d?.name === '华西医院', 'insert');

    // Stored as the row's columns, numbers readable (decimal.handling.mode=double), timestamps ISO.
    const doc = (await redisDoc(a))!;
    expect(doc).toMatchObject({
      id: a,
      city,
      level: '三级甲等',
      rating: 4.9,
      alias_names: ['协和', '协和医院'],
    });
    expect(doc.updated_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);

    // List indexes: rating desc, then id.
    const byCity = await p.redis.zrange(p.keys.institutionsByCity(city), '-', '+', 'BYLEX');
    expect(byCity.map(memberId)).toEqual([String(a), String(b), String(preExisting)]);
    expect(await p.redis.zrange(p.keys.institutionsByCityLevel(city, '二级甲等'), '-', '+', 'BYLEX')).toEqual(
      [`050:${String(b).padStart(12, '0')}`],
    );

    // Search: the cjk analyzer finds 协和 inside the name and the aliases; filters are keywords.
    await p.search.refresh(p.alias);
    const found = await p.search.search<Doc>(p.alias, {
      query: { bool: { must: { match: { name: '协和' } }, filter: { term: { city } } } },
    });
    expect(found.hits.map((h) => h.id)).toEqual([String(a)]);
    const geo = await p.search.count(p.alias, {
      bool: {
        filter: [
          { term: { city } },
          { geo_distance: { distance: '5km', location: { lat: 39.9, lon: 116.4 } } },
        ],
      },
    });
    expect(geo).toBe(3);

    // Update: rating and level change → moves in the city and city+level indexes.
    const t1 = Date.now();
    await p.db.query(`UPDATE institutions SET rating = 4.2, level = '三级甲等' WHERE id = $1`, [b]);
    const update = await visible(b, (d) => d?.rating === 4.2 && d.level === '三级甲等', 'update', t1);
    expect(await p.redis.zcard(p.keys.institutionsByCityLevel(city, '二级甲等'))).toBe(0);
    expect(
      (await p.redis.zrange(p.keys.institutionsByCityLevel(city, '三级甲等'), '-', '+', 'BYLEX')).map(
        memberId,
      ),
    ).toEqual([String(a), String(b), String(preExisting)]);

    // Suspending takes it out of the lists but keeps the document.
    await p.db.query(`UPDATE institutions SET status = 'suspended' WHERE id = $1`, [b]);
    await visible(b, (d) => d?.status === 'suspended', 'suspension');
    expect(
      (await p.redis.zrange(p.keys.institutionsByCity(city), '-', '+', 'BYLEX')).map(memberId),
    ).not.toContain(String(b));

    // Delete: gone from both stores, a tombstone with the delete's LSN stays in Redis.
    const t2 = Date.now();
    await p.db.query('DELETE FROM institutions WHERE id = $1', [a]);
    const del = await visible(a, (d) => d === null, 'delete', t2);
    const stored = await p.reader.get('institutions', String(a));
    expect(stored).toMatchObject({ doc: null, deleted: true });
    expect(await p.redis.zscore(p.keys.institutionsAll, `010:${String(a).padStart(12, '0')}`)).toBeNull();
    console.log(
      `[catalog-cdc] visible after commit (ms): insert redis ${insert.redisMs} search ${insert.searchMs}; ` +
        `update redis ${update.redisMs} search ${update.searchMs}; delete redis ${del.redisMs} search ${del.searchMs}`,
    );
  });

  it('reflects a raw SQL UPDATE made outside the application (psql)', async () => {
    const id = await insertInstitution(p.db, { name: '外部修改医院', city, rating: 3.9 });
    ids.push(id);
    await visible(id, (d) => d?.name === '外部修改医院', 'insert');
    execFileSync('psql', [
      config.DATABASE_URL,
      '-v',
      'ON_ERROR_STOP=1',
      '-c',
      `UPDATE institutions SET name = '外部修改医院（新院区）', tags = ARRAY['夜间门诊'] WHERE id = ${id}`,
    ]);
    await visible(
      id,
      (d) => d?.name === '外部修改医院（新院区）' && JSON.stringify(d.tags) === '["夜间门诊"]',
      'psql update',
    );
  });

  it('keeps the "institutions by department category" index from departments', async () => {
    const id = await insertInstitution(p.db, { name: '分类测试医院', city, rating: 4.4 });
    ids.push(id);
    const category = uniqueName('心内');
    const d1 = await p.db.query<{ id: string }>(
      `INSERT INTO departments (institution_id, name, category) VALUES ($1, '心血管内科', $2), ($1, '心律失常门诊', $2) RETURNING id`,
      [id, category],
    );
    const member = `060:${String(id).padStart(12, '0')}`;
    await waitFor(
      async () =>
        (await p.redis.zscore(p.keys.institutionsByCategory(category), member)) !== null ? true : undefined,
      {
        timeoutMs: VISIBLE_WITHIN_MS,
        what: 'institution in its category index',
      },
    );
    // One of two departments gone: still listed. Both gone: not listed.
    await p.db.query('DELETE FROM departments WHERE id = $1', [d1.rows[0]!.id]);
    await p.db.query(`UPDATE institutions SET rating = 4.6 WHERE id = $1`, [id]);
    const moved = `040:${String(id).padStart(12, '0')}`;
    await waitFor(
      async () =>
        (await p.redis.zscore(p.keys.institutionsByCategory(category), moved)) !== null ? true : undefined,
      {
        timeoutMs: VISIBLE_WITHIN_MS,
        what: 'category index follows the rating change',
      },
    );
    expect(await p.redis.zcard(p.keys.institutionsByCategory(category))).toBe(1);
    await p.db.query('DELETE FROM departments WHERE id = $1', [d1.rows[1]!.id]);
    await waitFor(
      async () => ((await p.redis.zcard(p.keys.institutionsByCategory(category))) === 0 ? true : undefined),
      {
        timeoutMs: VISIBLE_WITHIN_MS,
        what: 'category index emptied',
      },
    );
  });

  it('carries a column added with ALTER TABLE into both documents without a code or mapping change', async () => {
    const id = await insertInstitution(p.db, { name: '新列医院', city, rating: 4 });
    ids.push(id);
    await visible(id, (d) => d?.name === '新列医院', 'insert');
    if (!p) return;
    await p.db.query(`ALTER TABLE institutions ADD COLUMN ${column} text`);
    await p.db.query(`UPDATE institutions SET ${column} = '周末门诊 儿童友好' WHERE id = $1`, [id]);
    await visible(id, (d) => d?.[column] === '周末门诊 儿童友好', 'the new column');
    // Dynamically mapped as cjk text: searchable right away.
    await p.search.refresh(p.alias);
    const hits = await p.search.search<Doc>(p.alias, { query: { match: { [column]: '儿童' } } });
    expect(hits.hits.map((h) => h.id)).toEqual([String(id)]);
  });
});
