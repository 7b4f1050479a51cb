/**
 * Seeds the catalog with a realistic, deterministic dataset through COPY, only when the catalog
 * is empty (so the run command can call it on every start).
 *
 *   npm run seed                                   # 3,000 institutions, 30 cities, ~30k departments, 30k doctors
 *   npm run seed -- --seed 7 --institutions 10000 --doctors 100000
 *   npm run seed -- --reset                        # local dev only: TRUNCATE the catalog first
 */
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { copyLine } from './copy-text.ts';
import {
  CATALOG_TABLES,
  COLUMNS,
  DEFAULT_SEED_OPTIONS,
  generateCatalog,
  type CatalogTable,
  type Row,
  type SeedOptions,
} from './generate.ts';

/** Fixed: every seeder takes it, so two processes starting at once do not both seed. */
const SEED_LOCK_ID = 7_301_202_505;

export interface SeedRunOptions extends Partial<SeedOptions> {
  /** Draw a progress bar on stderr (the CLI does; the run command need not). */
  progress?: boolean;
  log?: (message: string) => void;
  /** TRUNCATE the catalog first. Truncates are not streamed by the connector: local dev only. */
  reset?: boolean;
}

export interface SeedResult {
  seeded: boolean;
  rows: Record<CatalogTable, number>;
  totalRows: number;
  ms: number;
  rowsPerSecond: number;
}

const zeroCounts = (): Record<CatalogTable, number> => ({
  institutions: 0,
  departments: 0,
  doctors: 0,
  homepage_content: 0,
});

/** Joins rows into ~256 KiB chunks: far fewer writes than one per row. */
function* chunks(rows: Iterable<Row>, onRows: (n: number) => void): Iterable<string> {
  let buf = '';
  let n = 0;
  for (const row of rows) {
    buf += copyLine(row);
    n += 1;
    if (buf.length >= 256 * 1024) {
      yield buf;
      onRows(n);
      buf = '';
      n = 0;
    }
  }
  if (buf) {
    yield buf;
    onRows(n);
  }
}

async function copyTable(
  client: pg.ClientBase,
  table: CatalogTable,
  rows: Iterable<Row>,
  onRows: (n: number) => void,
): Promise<number> {
  const stream = client.query(copyFrom(`COPY ${table} (${COLUMNS[table].join(', ')}) FROM STDIN`));
  await pipeline(Readable.from(chunks(rows, onRows)), stream);
  return stream.rowCount;
}

/** Seeds when `institutions` is empty; otherwise does nothing and says so. */
export async function seedIfEmpty(databaseUrl: string, opts: SeedRunOptions = {}): Promise<SeedResult> {
  const log = opts.log ?? (() => {});
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'seed' });
  await client.connect();
  const started = performance.now();
  let bar: cliProgress.SingleBar | undefined;
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [SEED_LOCK_ID]);
    if (opts.reset) {
      await client.query(`TRUNCATE ${CATALOG_TABLES.join(', ')} RESTART IDENTITY CASCADE`);
      log('catalog truncated');
    }
    const { rows } = await client.query<{ any: boolean }>(
      'SELECT EXISTS (SELECT 1 FROM institutions) AS any',
    );
    if (rows[0]?.any) {
      await client.query('ROLLBACK');
      log('catalog already has institutions: not seeding');
      return { seeded: false, rows: zeroCounts(), totalRows: 0, ms: 0, rowsPerSecond: 0 };
    }
    const catalog = generateCatalog(opts);
    const total = CATALOG_TABLES.reduce((sum, t) => sum + catalog.counts[t], 0);
    if (opts.progress) {
      bar = new cliProgress.SingleBar(
        {
          format:
            'seeding {table} [{bar}] {percentage}% | {value}/{total} rows | {rate} rows/s | {duration}s',
          hideCursor: true,
          // Without a terminal (CI, piped output) print a line every second instead of redrawing.
          noTTYOutput: !process.stderr.isTTY,
          notTTYSchedule: 1000,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(total, 0, { table: CATALOG_TABLES[0], rate: 0 });
    }
    const copied = zeroCounts();
    let done = 0;
    for (const table of CATALOG_TABLES) {
      copied[table] = await copyTable(client, table, catalog.rows[table](), (n) => {
        done += n;
        const seconds = (performance.now() - started) / 1000;
        bar?.update(done, { table, rate: Math.round(done / Math.max(seconds, 0.001)) });
      });
      // Explicit ids were copied: move each identity past them so later inserts do not collide.
      await client.query(
        `SELECT setval(pg_get_serial_sequence('${table}', 'id'), GREATEST((SELECT max(id) FROM ${table}), 1))`,
      );
    }
    await client.query('COMMIT');
    bar?.stop();
    bar = undefined;
    await client.query(`ANALYZE ${CATALOG_TABLES.join(', ')}`);
    const ms = performance.now() - started;
    const totalRows = CATALOG_TABLES.reduce((sum, t) => sum + copied[t], 0);
    const rowsPerSecond = Math.round(totalRows / (ms / 1000));
    log(
      `seeded ${totalRows} rows (${CATALOG_TABLES.map((t) => `${t} ${copied[t]}`).join(', ')}) ` +
        `in ${Math.round(ms)} ms: ${rowsPerSecond} rows/s`,
    );
    return { seeded: true, rows: copied, totalRows, ms, rowsPerSecond };
  } catch (err) {
    bar?.stop();
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    await client.end();
  }
}

const invokedDirectly =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;

if (invokedDirectly) {
  const { values } = parseArgs({
    options: {
      seed: { type: 'string' },
      institutions: { type: 'string' },
      cities: { type: 'string' },
      departments: { type: 'string' },
      doctors: { type: 'string' },
      content: { type: 'string' },
      reset: { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
    },
  });
  const num = (s: string | undefined, fallback: number): number => {
    if (s === undefined) return fallback;
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0) throw new Error(`expected a non-negative integer, got ${s}`);
    return n;
  };
  const { loadConfig } = await import('../../platform/config.ts');
  const { createLogger } = await import('../../platform/logger.ts');
  const config = loadConfig();
  const logger = createLogger('seed', config.LOG_LEVEL);
  try {
    await seedIfEmpty(config.DATABASE_URL, {
      seed: num(values.seed, DEFAULT_SEED_OPTIONS.seed),
      institutions: num(values.institutions, DEFAULT_SEED_OPTIONS.institutions),
      cities: num(values.cities, DEFAULT_SEED_OPTIONS.cities),
      departmentsPerInstitution: num(values.departments, DEFAULT_SEED_OPTIONS.departmentsPerInstitution),
      doctors: num(values.doctors, DEFAULT_SEED_OPTIONS.doctors),
      content: num(values.content, DEFAULT_SEED_OPTIONS.content),
      reset: values.reset,
      progress: !values.quiet,
      log: (m) => logger.info(m),
    });
  } catch (err) {
    logger.error({ err: err instanceof Error ? err.message : String(err) }, 'seeding failed');
    process.exitCode = 1;
  }
}
