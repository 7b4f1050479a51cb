/**
 * Versioned schema migrations: applies `infra/migrations/NNN_name.sql` files in order, each in
 * its own transaction, recording them in `schema_migrations`. A session advisory lock makes
 * concurrent runners (several test files, several service replicas) safe: the second one waits,
 * then finds nothing left to do. Applied files must not change; a checksum mismatch is an error.
 *
 *   npm run migrate            # against DATABASE_URL
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';

export const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'migrations');

/** Arbitrary but fixed: the advisory lock every migration runner takes. */
const MIGRATION_LOCK_ID = 7_301_202_503;

const FILE_NAME = /^(\d{3})_([a-z0-9_]+)\.sql$/;

export type MigrateLog = (message: string) => void;

export interface MigrationFile {
  version: string;
  name: string;
  file: string;
  sql: string;
  checksum: string;
}

export async function loadMigrations(dir = MIGRATIONS_DIR): Promise<MigrationFile[]> {
  const entries = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const files: MigrationFile[] = [];
  const seen = new Set<string>();
  for (const file of entries) {
    const m = FILE_NAME.exec(file);
    if (!m?.[1] || !m[2]) throw new Error(`Migration file name must look like 001_name.sql: ${file}`);
    if (seen.has(m[1])) throw new Error(`Two migrations share version ${m[1]}`);
    seen.add(m[1]);
    const sql = await readFile(join(dir, file), 'utf8');
    files.push({
      version: m[1],
      name: m[2],
      file,
      sql,
      checksum: createHash('sha256').update(sql).digest('hex'),
    });
  }
  return files;
}

/** Applies pending migrations; returns the versions applied by this call. */
export async function migrate(
  databaseUrl: string,
  log: MigrateLog = () => {},
  opts: { dir?: string } = {},
): Promise<string[]> {
  const migrations = await loadMigrations(opts.dir);
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'migrate' });
  await client.connect();
  const applied: string[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    try {
      await client.query(`
        CREATE TABLE IF NOT EXISTS schema_migrations (
          version    text        PRIMARY KEY,
          name       text        NOT NULL,
          checksum   text        NOT NULL,
          applied_at timestamptz NOT NULL DEFAULT now()
        )`);
      const { rows } = await client.query<{ version: string; checksum: string }>(
        'SELECT version, checksum FROM schema_migrations',
      );
      const done = new Map(rows.map((r) => [r.version, r.checksum]));
      for (const m of migrations) {
        const checksum = done.get(m.version);
        if (checksum !== undefined) {
          if (checksum !== m.checksum) {
            throw new Error(`Migration ${m.file} changed after it was applied; add a new migration instead`);
          }
          continue;
        }
        log(`applying ${m.file}`);
        await client.query('BEGIN');
        try {
          await client.query(m.sql);
          await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
            m.version,
            m.name,
            m.checksum,
          ]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK');
          throw new Error(`Migration ${m.file} failed: ${err instanceof Error ? err.message : String(err)}`, {
            cause: err,
          });
        }
        applied.push(m.version);
      }
      log(applied.length ? `applied ${applied.length} migration(s)` : 'schema is up to date');
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]);
    }
  } finally {
    await client.end();
  }
  return applied;
}

const invokedDirectly =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;

if (invokedDirectly) {
  const { loadConfig } = await import('../platform/config.ts');
  const { createLogger } = await import('../platform/logger.ts');
  const config = loadConfig();
  const logger = createLogger('migrate', config.LOG_LEVEL);
  try {
    await migrate(config.DATABASE_URL, (message) => logger.info(message));
  } catch (err) {
    logger.error({ err: err instanceof Error ? err.message : String(err) }, 'migration failed');
    process.exitCode = 1;
  }
}
