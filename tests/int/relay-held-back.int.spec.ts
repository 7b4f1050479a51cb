/**
 * A long transaction anywhere in the cluster holds the relay back (docs/adr/0002). The relay says
 * which one: pid, database, application, age, and how many committed events wait behind it.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgEventStore } from '../../platform/event-store/pg-event-store.ts';
import { createRegistry } from '../../platform/http/metrics.ts';
import { createPool, type Pool } from '../../platform/pg.ts';
import {
  ageHolder,
  describeHolder,
  relayHolder,
  relayLagSeconds,
} from '../../projections/relay/held-back.ts';
import { type RelayWatch, watchRelay } from '../../projections/relay/relay-watch.ts';
import { migrateTestDatabase, testPool } from '../support/db.ts';
import { adminUrlOfTestDatabase, testConfig } from '../support/test-config.ts';
import { waitFor } from '../support/wait.ts';

describe('relay held back by a long transaction', () => {
  let pool: Pool;
  let store: PgEventStore;

  beforeAll(async () => {
    await migrateTestDatabase();
    pool = testPool(4);
    store = new PgEventStore(pool);
  });
  afterAll(async () => {
    await pool?.end();
  });

  const appendOne = () =>
    store.appendToStream(`held-back-${randomUUID()}`, [{ type: 'ProbeHappened', data: {} }], 'no_stream');

  /**
   * A session of `connectionString` holding a transaction with an xid open while one event commits
   * behind it; `body` runs meanwhile with its pid, and the transaction ends after it.
   */
  const withHolder = async (
    connectionString: string,
    application: string,
    body: (pid: number) => Promise<void>,
  ) => {
    const holderClient = new pg.Client({ connectionString, application_name: application });
    await holderClient.connect();
    try {
      await holderClient.query('BEGIN');
      const { rows } = await holderClient.query<{ pid: number }>(
        'SELECT pg_backend_pid() AS pid, pg_current_xact_id()',
      );
      await appendOne();
      await body(rows[0]!.pid);
    } finally {
      await holderClient.query('ROLLBACK').catch(() => undefined);
      await holderClient.end();
    }
  };

  // Other test files share this database: one of their brief transactions can be the oldest for a
  // moment (a CI run read one, 20 ms old, in place of the holder), so the holder is awaited.
  const holderWithPid = (pid: number) =>
    waitFor(
      async () => {
        const holder = await relayHolder(pool);
        return holder?.pid === pid ? holder : undefined;
      },
      {
        timeoutMs: 5_000,
        what: `pid ${pid} as the relay's holder`,
      },
    );
  const noHolder = () =>
    waitFor(async () => ((await relayHolder(pool)) === undefined ? true : undefined), {
      timeoutMs: 5_000,
      what: 'no transaction holding the relay back',
    });

  /** The watch's degraded reason, once it gives one. */
  const heldBackReason = (watch: RelayWatch) =>
    waitFor(
      () => {
        try {
          watch.check();
          return undefined;
        } catch (err) {
          return (err as Error).message;
        }
      },
      { timeoutMs: 5_000, what: 'the held-back reason' },
    );
  const fastWatch = (registry: Registry) =>
    watchRelay({
      pool,
      checkpoint: () => undefined,
      registry,
      budgetSeconds: 0.2,
      intervalMs: 100,
      timeoutMs: 1_000,
    });

  it('given an open transaction with an xid and a later commit, then the holder is named until it ends', async () => {
    await withHolder(testConfig().DATABASE_URL, 'long-report-job', async (pid) => {
      const holder = await holderWithPid(pid);
      expect(holder).toMatchObject({ pid, application: 'long-report-job', state: 'idle in transaction' });
      expect(holder.waiting).toBeGreaterThanOrEqual(1);
      expect(holder.ageSeconds).toBeGreaterThanOrEqual(0); // same role: its start is visible
      expect(describeHolder(ageHolder(holder, undefined, Date.now()).holder!)).toContain(`pid ${pid}`);
      // Nothing published yet: the relay is at least as far behind as the waiting event is old.
      expect(await relayLagSeconds(pool, undefined)).toBeGreaterThanOrEqual(0);

      // The watch turns it into a degraded reason once past the budget, and into gauges.
      const registry = createRegistry();
      const watch = fastWatch(registry);
      try {
        const reason = await heldBackReason(watch);
        expect(reason).toContain(`pid ${pid}`);
        expect(reason).toContain('long-report-job');
        expect(reason).not.toContain('first seen'); // its start is visible: the age is exact
        const metrics = await registry.metrics();
        expect(metrics).toMatch(new RegExp(`relay_holding_pid ${pid}\\b`));
      } finally {
        watch.stop();
      }
    });
    // Once it ended, nothing holds the relay back.
    expect(await noHolder()).toBe(true);
  });

  it('given a holder of another role (its start hidden from ours), then its age counts from its first sighting and still crosses the budget', async () => {
    // The superuser's session: the platform's role sees its pid and xid, not its state nor xact_start.
    await withHolder(adminUrlOfTestDatabase(), 'admin-long-job', async (pid) => {
      const holder = await holderWithPid(pid);
      expect(holder).toMatchObject({ pid, application: 'admin-long-job', ageSeconds: null });

      const registry = createRegistry();
      const watch = fastWatch(registry);
      try {
        const reason = await heldBackReason(watch);
        expect(reason).toContain(`pid ${pid}`);
        expect(reason).toMatch(/held back for ≥ \d+\.\d s \(first seen/);
        expect(watch.report()).toMatchObject({ heldBackBy: { pid, ageIsLowerBound: true } });
        const metrics = await registry.metrics();
        expect(metrics).toMatch(new RegExp(`relay_holding_pid ${pid}\\b`));
        const held = Number(/^relay_held_back_seconds (\S+)$/m.exec(metrics)?.[1]);
        expect(held).toBeGreaterThan(0);
      } finally {
        watch.stop();
      }
    });
    expect(await noHolder()).toBe(true);
  });

  it('bounds: any session of the database is ended after 60 s idle in a transaction, a platform pool session after its own limit', async () => {
    const raw = new pg.Client({ connectionString: testConfig().DATABASE_URL });
    await raw.connect();
    try {
      const { rows } = await raw.query<{ idle_in_transaction_session_timeout: string }>(
        'SHOW idle_in_transaction_session_timeout',
      );
      expect(rows[0]?.idle_in_transaction_session_timeout).toBe('1min');
    } finally {
      await raw.end();
    }
    // A platform pool sets its own, shorter limit; a short one here to watch it act.
    const bounded = createPool(
      { DATABASE_URL: testConfig().DATABASE_URL, PG_POOL_MAX: 1 },
      { idleInTransactionTimeoutMs: 300 },
    );
    bounded.on('error', () => undefined); // the server ends the idle client: expected here
    const client = await bounded.connect();
    client.on('error', () => undefined);
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_current_xact_id()');
      await appendOne();
      expect(await relayHolder(pool)).toBeDefined();
      await new Promise((r) => setTimeout(r, 1_000));
      await expect(client.query('SELECT 1')).rejects.toThrow();
      expect(await relayHolder(pool)).toBeUndefined();
    } finally {
      client.release(true);
      await bounded.end();
    }
  });

  it('a transaction without an xid (a plain reader) holds nothing back', async () => {
    const reader = new pg.Client({ connectionString: testConfig().DATABASE_URL });
    await reader.connect();
    try {
      await reader.query('BEGIN');
      await reader.query('SELECT count(*) FROM events');
      await appendOne();
      expect(await relayHolder(pool)).toBeUndefined();
    } finally {
      await reader.query('ROLLBACK');
      await reader.end();
    }
  });
});
