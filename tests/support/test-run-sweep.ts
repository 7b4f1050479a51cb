/**
 * A run interrupted before its teardown (Ctrl-C, a killed CI job) would leave its database,
 * topics, slots and keys behind for good — a replication slot retains WAL forever. Every run
 * therefore holds an advisory lock named after its tag for as long as it lives, and the next run's
 * setup removes whatever carries the tag of a run whose lock nobody holds.
 */
import pg from 'pg';
import { removeRun, scanTags, type Engines } from './test-run-inventory.ts';

/** Holds the run's lock on its own connection; `release` ends it. */
export async function holdRunLock(e: Engines, tag: string): Promise<{ release(): Promise<void> }> {
  const client = new pg.Client({ connectionString: e.adminUrl, application_name: `test-run ${tag}` });
  await client.connect();
  await client.query('SELECT pg_advisory_lock(hashtext($1))', [tag]);
  return { release: () => client.end() };
}

/** Removes the leftovers of every run that is no longer alive; returns the tags it swept. */
export async function sweepAbandonedRuns(e: Engines, log: (line: string) => void): Promise<string[]> {
  const swept: string[] = [];
  const client = new pg.Client({ connectionString: e.adminUrl, application_name: 'test-run sweep' });
  await client.connect();
  try {
    for (const tag of await scanTags(e)) {
      const r = await client.query<{ free: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS free', [
        tag,
      ]);
      if (!r.rows[0]?.free) continue; // a live run (another suite on this machine) holds it
      try {
        const removed = await removeRun(e, tag, `${tag}booking`);
        log(`swept abandoned test run ${tag}: ${JSON.stringify(removed)}`);
        swept.push(tag);
      } finally {
        await client.query('SELECT pg_advisory_unlock(hashtext($1))', [tag]);
      }
    }
  } finally {
    await client.end();
  }
  return swept;
}
