/**
 * Runs in every integration worker before each file (vitest.config.ts `setupFiles`): points the
 * worker's environment at its own namespace of the run (test-run.ts `workerTag`), which the global
 * setup created. Worker 1 keeps the run's own, so a run with one worker is what it always was.
 */
import { RUN_TAG_ENV, runEnvironment, workerDatabaseUrl, workerTag } from './test-run.ts';

function pointAtWorkerNamespace(env: NodeJS.ProcessEnv): void {
  const worker = Number(env.VITEST_POOL_ID ?? '1');
  const tag = env[RUN_TAG_ENV];
  const runDatabase = env.DATABASE_URL;
  // Once per worker process (it can run several files): after that, the environment is the worker's.
  if (worker <= 1 || !tag || !runDatabase || env.TEST_WORKER !== undefined) return;
  env.TEST_WORKER = String(worker);
  Object.assign(env, runEnvironment(workerTag(tag, worker), workerDatabaseUrl(runDatabase, tag, worker)));
}

pointAtWorkerNamespace(process.env);
