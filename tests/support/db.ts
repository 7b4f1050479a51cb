/** PostgreSQL helpers for integration tests: migrate once, small pools, random stream ids. */
import { randomUUID } from 'node:crypto';
import { migrate } from '../../infra/migrate.ts';
import { parseConfig } from '../../platform/config.ts';
import { createPool, type Pool } from '../../platform/pg.ts';

function databaseUrl(): string {
  const parsed = parseConfig(process.env);
  if (!parsed.ok) throw new Error(`Invalid test configuration: ${parsed.errors.join('; ')}`);
  return parsed.config.DATABASE_URL;
}

export const DATABASE_URL = databaseUrl();

/** Brings the schema up to date (safe to call from every file: the runner takes an advisory lock). */
export async function migrateTestDatabase(): Promise<void> {
  await migrate(DATABASE_URL);
}

/** `applicationName` tells this pool's sessions apart in pg_stat_activity (a test watching them wait). */
export function testPool(max = 10, applicationName = 'tests'): Pool {
  return createPool({ DATABASE_URL, PG_POOL_MAX: max }, { applicationName });
}

/**
 * Until a session of the pool named `applicationName` (testPool's second argument) waits on a
 * lock, or `unless` settles first; it stops polling either way.
 */
export async function lockWaitOrSettled(pool: Pool, applicationName: string, unless: Promise<unknown>) {
  let settled = false;
  const done = () => (settled = true);
  unless.then(done, done);
  while (!settled) {
    const { rows } = await pool.query(
      `SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`,
      [applicationName],
    );
    if (rows.length > 0) return;
    await sleep(10);
  }
}

export const randomStreamId = (prefix = 'test'): string => `${prefix}-${randomUUID()}`;

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
