/**
 * What the analytics index tests set up alike: a private catalog session, a writer at a fixed
 * "now", and one suite per configured search engine.
 */
import pg from 'pg';
import { describe } from 'vitest';
import { createLogger } from '../../platform/logger.ts';
import { patientVault, type PatientVault } from '../../platform/patient-vault.ts';
import {
  configuredEngines,
  createSearchEngine,
  type SearchEngine,
  type SearchKind,
} from '../../platform/search/index.ts';
import { AnalyticsWriter } from '../../projections/analytics/analytics-writer.ts';
import { pgCatalogLookup } from '../../projections/analytics/catalog-lookup.ts';
import type { StreamHistory } from '../../projections/redis/redis-writer.ts';
import { migrateTestDatabase } from './db.ts';
import { testConfig } from './test-config.ts';

/** The tests' "now": retention keeps 24 months back from it, so the 2026 sessions are kept. */
export const NOW = new Date('2026-06-01T00:00:00Z');

export const testLogger = createLogger('test', process.env.TEST_LOG_LEVEL ?? 'silent');

/**
 * A session whose temporary catalog tables shadow the real ones (empty: the test fills them), so
 * the shared catalog and its CDC connector are never touched; and the patient vault on it.
 */
export async function openCatalogSession(): Promise<{ session: pg.Client; vault: PatientVault }> {
  const config = testConfig();
  await migrateTestDatabase();
  const session = new pg.Client({ connectionString: config.DATABASE_URL });
  await session.connect();
  await session.query(`
    CREATE TEMP TABLE institutions (id bigint PRIMARY KEY, name text, city text, district text, level text, type text);
    CREATE TEMP TABLE departments (id bigint PRIMARY KEY, name text, category text);
    CREATE TEMP TABLE doctors (id bigint PRIMARY KEY, name text, title text);`);
  return { session, vault: patientVault(session, config) };
}

/** An analytics writer reading the catalog of `session`, with 24 months' retention at NOW. */
export function testAnalyticsWriter(opts: {
  engine: SearchEngine;
  alias: string;
  history: StreamHistory;
  session: pg.Client;
  vault: PatientVault;
}): AnalyticsWriter {
  return new AnalyticsWriter({
    engine: opts.engine,
    alias: opts.alias,
    history: opts.history,
    catalog: pgCatalogLookup(opts.session),
    patients: opts.vault,
    retentionMonths: 24,
    now: () => NOW,
    logger: testLogger,
  });
}

/**
 * `suite` once per search engine kind, on a client of it; a kind without a configured server is
 * a skipped suite that says why (`[file] SKIP kind: … so there is no kind server <purpose>`).
 */
export function describeEachEngine(
  opts: { file: string; title: string; purpose: string },
  suite: (engine: SearchEngine, kind: SearchKind) => void,
): void {
  const engines = configuredEngines(testConfig());
  for (const kind of Object.keys(engines) as SearchKind[]) {
    const url = engines[kind];
    if (!url) {
      const variable = kind === 'elasticsearch' ? 'ELASTICSEARCH_URL' : 'OPENSEARCH_URL';
      console.log(
        `[${opts.file}] SKIP ${kind}: ${variable} is not set, so there is no ${kind} server ${opts.purpose}`,
      );
    }
    describe.skipIf(!url)(`${opts.title}: ${kind}`, () => {
      suite(createSearchEngine(kind, { url: url ?? 'http://unset' }), kind);
    });
  }
}
