/**
 * Integration tests run against the real engines, in a namespace of their own (tests/support/
 * test-run.ts): a database created here with a unique name, and a tag every topic, group,
 * connector, slot, index and Redis key of the run starts with. When the engines are not running,
 * the same launcher as `npm run engines -- up` brings them up (without the platform's database
 * and topics) and leaves them running for the next run.
 *
 * The teardown removes everything of the run, then compares the engines with the snapshot taken
 * here: anything left behind, or anything of the platform's changed, fails the run.
 */
import { allReady, up } from '../../infra/local/launcher.ts';
import { migrate } from '../../infra/migrate.ts';
import { parseConfig } from '../../platform/config.ts';
import {
  createRunDatabase,
  differences,
  removeRun,
  takeInventory,
  type Engines,
} from './test-run-inventory.ts';
import { holdRunLock, sweepAbandonedRuns } from './test-run-sweep.ts';
import { PG_ADMIN_URL as ADMIN_URL } from './test-config.ts';
import { intWorkers, newRunTag, runEnvironment, workerTag } from './test-run.ts';

async function startEngines(): Promise<void> {
  if (process.env.SKIP_ENGINE_LAUNCH === '1') {
    console.log('[global-setup] SKIP_ENGINE_LAUNCH=1: assuming the engines are already up');
  } else if (await allReady()) {
    console.log('[global-setup] engines already running');
    await up(() => undefined, undefined, { platformData: false }); // still ensures wal_level and the role
  } else {
    console.log('[global-setup] engines not running: starting them with infra/local/launcher');
    await up((line) => console.log(`[engines] ${line}`), undefined, { platformData: false });
  }
}

function enginesOf(): Engines {
  const parsed = parseConfig(process.env);
  if (!parsed.ok) throw new Error(`bad test environment:\n${parsed.errors.join('\n')}`);
  const c = parsed.config;
  return {
    adminUrl: ADMIN_URL,
    kafkaBrokers: c.KAFKA_BROKERS,
    connectUrl: c.KAFKA_CONNECT_URL,
    searchUrl: c.SEARCH_URL,
    redisUrl: c.REDIS_URL,
  };
}

type Teardown = () => Promise<void>;

/**
 * The integration projects (parallel and serial, vitest.config.ts) both name this setup, and vitest
 * calls each project's in the same process: the first call sets the run up, the others share it,
 * and only the last teardown removes it.
 */
interface SharedRun {
  setup: Promise<Teardown>;
  users: number;
}
const shared = globalThis as typeof globalThis & { __bookingTestRun?: SharedRun };

export default async function setup(): Promise<Teardown> {
  const run = (shared.__bookingTestRun ??= { setup: setupRun(), users: 0 });
  run.users += 1;
  const teardown = await run.setup;
  return async () => {
    run.users -= 1;
    if (run.users === 0) await teardown();
  };
}

/** A database of the run's, migrated, for each integration worker after the first (test-run.ts). */
async function createWorkerDatabases(engines: Engines, tag: string): Promise<void> {
  for (let worker = 2; worker <= intWorkers(); worker += 1) {
    const { url } = await createRunDatabase(engines, workerTag(tag, worker));
    await migrate(url);
  }
}

async function setupRun(): Promise<Teardown> {
  await startEngines();
  const engines = enginesOf();
  await sweepAbandonedRuns(engines, (line) => console.log(`[global-setup] ${line}`));
  const before = await takeInventory(engines);
  const tag = newRunTag();
  const lock = await holdRunLock(engines, tag);
  const databaseUrl = (await createRunDatabase(engines, tag)).url;
  // Workers are started after this returns and inherit the environment.
  Object.assign(process.env, runEnvironment(tag, databaseUrl));
  await migrate(databaseUrl);
  await createWorkerDatabases(engines, tag);
  console.log(`[global-setup] test run ${tag}: database ${new URL(databaseUrl).pathname.slice(1)}`);

  return async function teardown() {
    try {
      const removed = await removeRun(engines, tag, new URL(databaseUrl).pathname.slice(1));
      const summary = Object.entries(removed)
        .map(([kind, n]) => `${n} ${kind}`)
        .join(', ');
      console.log(`[global-teardown] test run ${tag}: removed ${summary}`);
      const diff = differences(before, await takeInventory(engines));
      if (diff.length) {
        throw new Error(`the test run changed the shared engines:\n  ${diff.join('\n  ')}`);
      }
      console.log('[global-teardown] engines exactly as before the run');
    } catch (err) {
      // vitest reports an error thrown here but still exits 0: set the exit code ourselves.
      process.exitCode = 1;
      throw err;
    } finally {
      await lock.release(); // its open connection would otherwise keep vitest from exiting
    }
  };
}
