/**
 * The catalog connector resumes from its stored offsets: after a REST restart, and after being
 * deleted and registered again under the same name, it streams the changes made meanwhile and
 * does not redo the initial snapshot (no new `op: r` events).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createCatalogPipeline,
  insertInstitution,
  type CatalogPipeline,
} from '../support/catalog-pipeline.ts';
import { testConfig } from '../support/test-config.ts';
import { uniqueName, waitFor } from '../support/wait.ts';

describe('catalog connector restart', () => {
  const config = testConfig();
  let p: CatalogPipeline;
  let marker: number;
  let rowsAtSnapshot: number;

  const snapshotReads = () => p.applied.filter((a) => a.event.snapshot).length;
  const streamedInstitutionReads = () =>
    new Set(p.applied.filter((a) => a.event.snapshot && a.table === 'institutions').map((a) => a.event.id))
      .size;

  async function offsets(): Promise<unknown> {
    const res = await fetch(`${config.KAFKA_CONNECT_URL}/connectors/${p.settings.name}/offsets`);
    return res.json();
  }

  async function markerName(name: string, what: string): Promise<void> {
    await waitFor(
      async () =>
        (await p.reader.get('institutions', String(marker)))?.doc?.name === name ? true : undefined,
      { timeoutMs: 30_000, intervalMs: 50, what },
    );
  }

  beforeAll(async () => {
    p = await createCatalogPipeline(config, { tag: 'cdcrestart' });
    marker = await insertInstitution(p.db, { name: '重启前医院', city: uniqueName('重启市'), rating: 4 });
    rowsAtSnapshot = Number(
      (await p.db.query<{ n: string }>('SELECT count(*) AS n FROM institutions')).rows[0]?.n,
    );
    await p.applyConnector();
    await p.startProjection(['redis']);
  });

  afterAll(async () => {
    if (!p) return;
    await p.db.query('DELETE FROM institutions WHERE id = $1', [marker]);
    await p.cleanup();
  });

  it('resumes from its offsets after a restart and after re-registration, without a new snapshot', async () => {
    // Initial snapshot: every institution once as op r.
    await waitFor(() => (streamedInstitutionReads() >= rowsAtSnapshot ? true : undefined), {
      timeoutMs: 120_000,
      what: `${rowsAtSnapshot} institutions snapshotted`,
    });
    await p.db.query(`UPDATE institutions SET name = '快照后医院' WHERE id = $1`, [marker]);
    await markerName('快照后医院', 'streaming after the snapshot');
    // Let the departments/doctors/content snapshot finish draining too before counting.
    let settled = -1;
    await waitFor(
      async () => {
        const n = snapshotReads();
        if (n === settled) return true;
        settled = n;
        await new Promise((r) => setTimeout(r, 1500));
        return undefined;
      },
      { timeoutMs: 120_000, what: 'snapshot events drained' },
    );
    const snapshotted = snapshotReads();
    const before = JSON.stringify(await offsets());
    expect(before).toContain('lsn');

    // 1. REST restart of connector and task.
    await p.connect.restart(p.settings.name);
    await p.connect.waitRunning(p.settings.name, 60_000);
    await p.db.query(`UPDATE institutions SET name = '重启后医院' WHERE id = $1`, [marker]);
    await markerName('重启后医院', 'a change after the REST restart');

    // 2. Deleted, changed while no connector runs (the slot keeps the WAL), registered again.
    await p.connect.delete(p.settings.name);
    await waitFor(async () => ((await p.connect.status(p.settings.name)) === null ? true : undefined), {
      what: 'connector gone',
    });
    await p.db.query(`UPDATE institutions SET name = '离线期间修改的医院' WHERE id = $1`, [marker]);
    await p.applyConnector();
    await markerName('离线期间修改的医院', 'the change made while the connector was away');

    expect(snapshotReads()).toBe(snapshotted);
    console.log(
      `[catalog-restart] snapshot events ${snapshotted} (institutions ${rowsAtSnapshot}); none after restart or re-registration`,
    );
  });
});
