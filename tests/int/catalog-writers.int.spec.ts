/**
 * The catalog writers against real Redis and the real search engine, fed hand-made change events:
 * LSN idempotency (replays, out-of-order redelivery, deletes that stay deleted), list-index moves,
 * the department → category index, and the unchanged-TOAST placeholder.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis, type RedisClient } from '../../platform/redis.ts';
import { searchFromConfig, type SearchEngine } from '../../platform/search/index.ts';
import type { ChangeEvent } from '../../projections/catalog/change-event.ts';
import { RedisCatalogWriter } from '../../projections/catalog/redis-writer.ts';
import { ensureInstitutionsIndex } from '../../projections/catalog/search-index.ts';
import { SearchCatalogWriter } from '../../projections/catalog/search-writer.ts';
import { catalogKeys, memberId, type CatalogTable, type Row } from '../../read-models/catalog.ts';
import { scanKeys, unlinkKeys } from '../support/redis-keys.ts';
import { testConfig } from '../support/test-config.ts';
import { uniqueName, waitFor } from '../support/wait.ts';

const U = '__debezium_unavailable_value';

function ev(
  table: CatalogTable,
  op: ChangeEvent['op'],
  id: number,
  lsn: number,
  after: Row | null,
): ChangeEvent {
  return {
    kind: 'change',
    op,
    table,
    id: String(id),
    before: null,
    after,
    lsn,
    snapshot: op === 'r',
    sourceTsMs: 0,
    tsMs: 0,
  };
}

const inst = (id: number, over: Row = {}): Row => ({
  id,
  name: `医院${id}`,
  city: '杭州',
  level: '三级甲等',
  rating: 4,
  status: 'active',
  latitude: 30.27,
  longitude: 120.15,
  ...over,
});

describe('catalog writers on real Redis and search', () => {
  const config = testConfig();
  const prefix = `${uniqueName('cw')}:`;
  const keys = catalogKeys(prefix);
  const alias = uniqueName('cw_institutions');
  let redis: RedisClient;
  let search: SearchEngine;
  let writer: RedisCatalogWriter;
  let searchWriter: SearchCatalogWriter;

  const members = (key: string) => redis.zrange(key, '-', '+', 'BYLEX');

  beforeAll(async () => {
    redis = createRedis(config, 'catalog-writers-test');
    search = searchFromConfig(config);
    writer = new RedisCatalogWriter(redis, keys);
    const { index } = await ensureInstitutionsIndex(search, alias);
    searchWriter = new SearchCatalogWriter(search, index);
  });

  afterAll(async () => {
    await unlinkKeys(redis, await scanKeys(redis, `${keys.keyPrefix}*`));
    for (const index of await search.aliasTargets(alias)) await search.deleteIndex(index);
    redis.disconnect();
    await search.close();
  });

  it('applies a change only if its LSN is newer: replays and late redeliveries are no-ops', async () => {
    const v1 = ev('institutions', 'c', 1, 100, inst(1, { rating: 4 }));
    const v2 = ev('institutions', 'u', 1, 200, inst(1, { rating: 4.5, name: '新名字' }));
    expect(await writer.apply('institutions', [v1, v2])).toEqual({ applied: 2, stale: 0 });
    expect(await writer.apply('institutions', [v1, v2])).toEqual({ applied: 0, stale: 2 });
    expect((await writer.get('institutions', '1'))?.doc).toMatchObject({ name: '新名字', rating: 4.5 });
    expect(await members(keys.institutionsByCity('杭州'))).toEqual(['050:000000000001']);

    // search: version = LSN, the older one is a conflict
    expect(await searchWriter.apply([v2])).toMatchObject({ applied: 1, stale: 0 });
    expect(await searchWriter.apply([v1])).toMatchObject({ applied: 0, stale: 1 });
    const doc = await search.get<Row>(alias, '1');
    expect(doc?.version).toBe(200);
    expect(doc?.source).toMatchObject({ name: '新名字', location: { lat: 30.27, lon: 120.15 } });
  });

  it('keeps a deleted row deleted when an older insert is replayed, in both stores', async () => {
    const create = ev('institutions', 'c', 2, 300, inst(2));
    const del = ev('institutions', 'd', 2, 310, null);
    await writer.apply('institutions', [create, del]);
    await writer.apply('institutions', [create]);
    expect(await writer.get('institutions', '2')).toEqual({ doc: null, lsn: 310, deleted: true });
    expect((await members(keys.institutionsAll)).map(memberId)).not.toContain('2');

    await searchWriter.apply([create, del]);
    await searchWriter.apply([create]);
    expect(await search.get(alias, '2')).toBeNull();

    // A later re-insert of the same id (higher LSN) is applied.
    await writer.apply('institutions', [ev('institutions', 'c', 2, 400, inst(2, { name: '重建' }))]);
    expect((await writer.get('institutions', '2'))?.doc?.name).toBe('重建');
  });

  it('moves list-index memberships when city, level, rating or status change', async () => {
    await writer.apply('institutions', [
      ev('institutions', 'c', 3, 500, inst(3, { city: '宁波', rating: 3 })),
    ]);
    await writer.apply('institutions', [
      ev('institutions', 'u', 3, 510, inst(3, { city: '温州', level: '二级甲等', rating: 3.5 })),
    ]);
    expect(await members(keys.institutionsByCity('宁波'))).toEqual([]);
    expect(await members(keys.institutionsByCityLevel('温州', '二级甲等'))).toEqual(['150:000000000003']);
    await writer.apply('institutions', [
      ev('institutions', 'u', 3, 520, inst(3, { city: '温州', level: '二级甲等', status: 'closed' })),
    ]);
    expect(await members(keys.institutionsByCity('温州'))).toEqual([]);
    expect((await writer.get('institutions', '3'))?.doc?.status).toBe('closed');
  });

  it('touches no list key when an update moves no list entry (the query APIs invalidate on list writes)', async () => {
    const cat = keys.institutionsByCategory('眼科');
    const city = keys.institutionsByCity('绍兴');
    const docKey = keys.doc('institutions', 5);
    await writer.apply('institutions', [ev('institutions', 'c', 5, 700, inst(5, { city: '绍兴' }))]);
    await writer.apply('departments', [
      ev('departments', 'c', 50, 701, { id: 50, institution_id: 5, name: '眼科', category: '眼科' }),
    ]);
    expect(await members(cat)).toHaveLength(1);
    // Keyspace events as the query API subscribes to them (it enables `notify-keyspace-events` itself).
    const admin = createRedis(config, 'catalog-writers-events-admin');
    const subscriber = createRedis(config, 'catalog-writers-events');
    try {
      const flags = ((await admin.config('GET', 'notify-keyspace-events')) as string[])[1] ?? '';
      if (!flags.includes('K') || !flags.includes('A'))
        await admin.config('SET', 'notify-keyspace-events', 'KA');
      let touched: string[] = [];
      subscriber.on('pmessage', (_p: string, channel: string, op: string) =>
        touched.push(`${op} ${channel.slice(channel.indexOf(':') + 1)}`),
      );
      await subscriber.psubscribe(`__keyspace@*__:${keys.keyPrefix}*`);
      const listWritesOf = async (change: ChangeEvent) => {
        touched = [];
        await writer.apply('institutions', [change]);
        // The document is written last: once its event is here, every earlier one is too.
        await waitFor(() => (touched.includes(`hset ${docKey}`) ? true : undefined), { timeoutMs: 5000 });
        return touched.filter((t) => t.endsWith(` ${city}`) || t.endsWith(` ${cat}`));
      };

      // Only the name changes: the document is rewritten, no list entry moves.
      expect(
        await listWritesOf(ev('institutions', 'u', 5, 710, inst(5, { city: '绍兴', name: '新名' }))),
      ).toEqual([]);
      // The rating orders the lists: the member moves, so both lists are written.
      const moved = await listWritesOf(ev('institutions', 'u', 5, 720, inst(5, { city: '绍兴', rating: 5 })));
      expect(moved).toEqual(
        expect.arrayContaining([`zrem ${city}`, `zadd ${city}`, `zrem ${cat}`, `zadd ${cat}`]),
      );
      expect(await members(city)).toEqual(['000:000000000005']);
    } finally {
      subscriber.disconnect();
      admin.disconnect();
    }
  });

  it('lists an institution under a category while it has a department in it, whichever topic comes first', async () => {
    const cat = keys.institutionsByCategory('儿科');
    // Departments before their institution (different topics, no order between them).
    await writer.apply('departments', [
      ev('departments', 'c', 41, 600, { id: 41, institution_id: 4, name: '小儿内科', category: '儿科' }),
      ev('departments', 'c', 42, 601, { id: 42, institution_id: 4, name: '新生儿科', category: '儿科' }),
    ]);
    expect(await members(cat)).toEqual([]);
    await writer.apply('institutions', [ev('institutions', 'r', 4, 100, inst(4, { rating: 4.8 }))]);
    expect(await members(cat)).toEqual(['020:000000000004']);
    await writer.apply('institutions', [ev('institutions', 'u', 4, 700, inst(4, { rating: 4.1 }))]);
    expect(await members(cat)).toEqual(['090:000000000004']);
    // A department moving to another category, then the last one deleted.
    await writer.apply('departments', [
      ev('departments', 'u', 41, 710, { id: 41, institution_id: 4, name: '小儿内科', category: '内科' }),
    ]);
    expect(await members(cat)).toEqual(['090:000000000004']);
    expect(await members(keys.institutionsByCategory('内科'))).toEqual(['090:000000000004']);
    await writer.apply('departments', [ev('departments', 'd', 42, 720, null)]);
    await writer.apply('departments', [ev('departments', 'd', 42, 720, null)]); // redelivered
    expect(await members(cat)).toEqual([]);
    expect(await redis.hgetall(keys.institutionCategories(4))).toEqual({ 内科: '1' });
    expect(await members(keys.departmentsByInstitution(4))).toEqual(['内科:000000000041']);
  });

  it('fills an unchanged TOASTed column from the stored version', async () => {
    const intro = '很长的介绍'.repeat(2000);
    await writer.apply('institutions', [ev('institutions', 'c', 5, 800, inst(5, { intro }))]);
    await searchWriter.apply([ev('institutions', 'c', 5, 800, inst(5, { intro }))]);
    const update = ev('institutions', 'u', 5, 810, inst(5, { rating: 4.9, intro: U }));
    await writer.apply('institutions', [update]);
    await searchWriter.apply([update]);
    expect((await writer.get('institutions', '5'))?.doc).toMatchObject({ rating: 4.9, intro });
    expect((await search.get<Row>(alias, '5'))?.source).toMatchObject({ rating: 4.9, intro });
  });
});
