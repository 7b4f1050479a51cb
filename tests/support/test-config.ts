import { parseConfig, type Config } from '../../platform/config.ts';

/** The configuration integration tests use: the environment's, with defaults pointing at the local engines. */
export function testConfig(): Config {
  const result = parseConfig(process.env);
  if (!result.ok) throw new Error(`bad test environment:\n${result.errors.join('\n')}`);
  return result.config;
}

/** A superuser connection to the `postgres` database (the test run creates its database with it). */
export const PG_ADMIN_URL = process.env.PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** The superuser, connected to the run's database (`testConfig().DATABASE_URL`) instead. */
export function adminUrlOfTestDatabase(): string {
  const url = new URL(PG_ADMIN_URL);
  url.pathname = new URL(testConfig().DATABASE_URL).pathname;
  return url.href;
}
