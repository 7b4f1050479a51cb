import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogNames } from '../../projections/search/names.ts';
import { testConfig } from '../support/test-config.ts';

// A private session whose temporary tables shadow the real catalog: the shared catalog (and the
// CDC connector streaming it) is never touched.
describe('catalog name resolver', () => {
  const config = testConfig();
  let session: pg.Client;
  let empty: pg.Client;

  beforeAll(async () => {
    session = new pg.Client({ connectionString: config.DATABASE_URL });
    await session.connect();
    await session.query(`
      CREATE TEMP TABLE institutions (id bigint PRIMARY KEY, name text NOT NULL);
      CREATE TEMP TABLE departments (id bigint PRIMARY KEY, name text NOT NULL);
      CREATE TEMP TABLE doctors (id bigint PRIMARY KEY, name text NOT NULL);
      INSERT INTO institutions VALUES (901, '北京协和医院');
      INSERT INTO departments VALUES (902, '心内科');
      INSERT INTO doctors VALUES (903, '张医生');`);
    empty = new pg.Client({
      connectionString: config.DATABASE_URL,
      options: '-c search_path=no_such_schema',
    });
    await empty.connect();
  });

  afterAll(async () => {
    await session?.end();
    await empty?.end();
  });

  it('resolves known numeric ids, leaves the others out, and caches', async () => {
    const names = catalogNames(session);
    const first = await names.resolve({
      institutions: ['901', 'inst-x'],
      departments: ['902', '9999'],
      doctors: ['903'],
    });
    expect(first.institutions).toEqual(new Map([['901', '北京协和医院']]));
    expect(first.departments).toEqual(new Map([['902', '心内科']]));
    expect(first.doctors).toEqual(new Map([['903', '张医生']]));
    await session.query("UPDATE doctors SET name = '李医生' WHERE id = 903");
    expect(
      (await names.resolve({ institutions: [], departments: [], doctors: ['903'] })).doctors.get('903'),
    ).toBe('张医生');
    const fresh = catalogNames(session, { ttlMs: 1 });
    expect(
      (await fresh.resolve({ institutions: [], departments: [], doctors: ['903'] })).doctors.get('903'),
    ).toBe('李医生');
  });

  it('falls back to ids when the catalog tables do not exist', async () => {
    const resolved = await catalogNames(empty).resolve({
      institutions: ['1'],
      departments: ['2'],
      doctors: ['3'],
    });
    expect(resolved.institutions.size + resolved.departments.size + resolved.doctors.size).toBe(0);
  });
});
