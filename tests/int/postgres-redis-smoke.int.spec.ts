import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createRedis } from '../../platform/redis.ts';
import { testConfig } from '../support/test-config.ts';
import { uniqueName } from '../support/wait.ts';

describe('PostgreSQL and Redis smoke', () => {
  const config = testConfig();

  it('PostgreSQL is reachable and ready for logical decoding', async () => {
    const client = new pg.Client({ connectionString: config.DATABASE_URL });
    await client.connect();
    try {
      const { rows } = await client.query<{ wal_level: string; replication: boolean }>(
        'SELECT current_setting($1) AS wal_level, rolreplication AS replication FROM pg_roles WHERE rolname = current_user',
        ['wal_level'],
      );
      expect(rows[0]).toEqual({ wal_level: 'logical', replication: true });
      const table = uniqueName('smoke_pg');
      await client.query(`CREATE TEMP TABLE ${table} (v text)`);
      await client.query(`INSERT INTO ${table} VALUES ('挂号')`);
      expect((await client.query(`SELECT v FROM ${table}`)).rows).toEqual([{ v: '挂号' }]);
    } finally {
      await client.end();
    }
  });

  it('Redis answers and runs a script atomically', async () => {
    const redis = createRedis(config, 'smoke');
    const key = uniqueName('smoke:redis');
    try {
      expect(await redis.ping()).toBe('PONG');
      const result = await redis.eval(
        "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('INCRBY', KEYS[1], 2)",
        1,
        key,
        '40',
      );
      expect(result).toBe(42);
    } finally {
      await redis.del(key);
      redis.disconnect();
    }
  });
});
