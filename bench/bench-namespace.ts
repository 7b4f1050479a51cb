/**
 * A benchmark's own namespace, as a test run has (tests/support/test-run.ts) and as the gate opens
 * one (bench/gate.ts): a run tag, a database migrated and seeded for it, the run's environment
 * exported to this process (and so to the servers it spawns), and a cleanup that removes the
 * database and everything named after the tag. The shared engines must already run.
 */
import { allReady } from '../infra/local/launcher.ts';
import { migrate } from '../infra/migrate.ts';
import type { SeedOptions } from '../infra/seed/generate.ts';
import { seedIfEmpty } from '../infra/seed/seed.ts';
import { parseConfig } from '../platform/config.ts';
import { createRunDatabase, removeRun, type Engines } from '../tests/support/test-run-inventory.ts';
import { holdRunLock } from '../tests/support/test-run-sweep.ts';
import { newRunTag, runEnvironment } from '../tests/support/test-run.ts';

const ADMIN_URL = process.env.PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface BenchNamespace {
  tag: string;
  databaseUrl: string;
  seeded: Record<string, number>;
  cleanup(): Promise<Record<string, number>>;
}

export async function openBenchNamespace(seed: Partial<SeedOptions> = {}): Promise<BenchNamespace> {
  if (!(await allReady())) throw new Error('the engines are not running (npm run engines -- up)');
  const parsed = parseConfig(process.env);
  if (!parsed.ok) throw new Error(`bad environment:\n${parsed.errors.join('\n')}`);
  const c = parsed.config;
  const e: Engines = {
    adminUrl: ADMIN_URL,
    kafkaBrokers: c.KAFKA_BROKERS,
    connectUrl: c.KAFKA_CONNECT_URL,
    searchUrl: c.SEARCH_URL,
    redisUrl: c.REDIS_URL,
  };
  const tag = newRunTag();
  const lock = await holdRunLock(e, tag);
  const { name, url } = await createRunDatabase(e, tag);
  try {
    await migrate(url);
    const seeded = await seedIfEmpty(url, seed);
    Object.assign(process.env, runEnvironment(tag, url));
    return {
      tag,
      databaseUrl: url,
      seeded: seeded.rows,
      async cleanup() {
        try {
          return await removeRun(e, tag, name);
        } finally {
          await lock.release();
        }
      },
    };
  } catch (err) {
    await removeRun(e, tag, name).finally(() => lock.release());
    throw err;
  }
}
