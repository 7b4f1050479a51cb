import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Checkpoint, type EventToAppend } from '../../platform/event-store/event-store.ts';
import { encodeCheckpoint, PgEventStore } from '../../platform/event-store/pg-event-store.ts';
import { type Pool, withTransaction } from '../../platform/pg.ts';
import { lockWaitOrSettled, migrateTestDatabase, randomStreamId, sleep, testPool } from '../support/db.ts';
import { uniqueName } from '../support/wait.ts';

let pool: Pool;
let store: PgEventStore;

beforeAll(async () => {
  await migrateTestDatabase();
  pool = testPool(16);
  store = new PgEventStore(pool);
});

afterAll(async () => {
  await pool.end();
});

const anEvent = (n = 0, type = 'Something'): EventToAppend => ({ type, data: { n } });

/** The newest position readAll can already see: a test that starts reading here sees only newer events. */
async function headCheckpoint(): Promise<Checkpoint | undefined> {
  const { rows } = await pool.query<{ transaction_id: string; global_position: string }>(
    `SELECT transaction_id, global_position FROM events
     WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
     ORDER BY transaction_id DESC, global_position DESC LIMIT 1`,
  );
  return rows[0] ? encodeCheckpoint(rows[0].transaction_id, rows[0].global_position) : undefined;
}

/**
 * What only the PostgreSQL store promises. The port's behaviour common to every store (append and
 * read, expected revisions, conflicts, retries, readAll paging, checkpoints, the unit of work on
 * one stream) is the contract suite's: event-store-contract.int.spec.ts.
 */
describe('appendToStream in a PostgreSQL transaction', () => {
  it("appends inside the caller's transaction: nothing on rollback, everything on commit", async () => {
    const stream = randomStreamId();
    await expect(
      withTransaction(pool, async (client) => {
        await store.appendToStream(stream, [anEvent()], 'no_stream', { transaction: client });
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await store.readStream(stream)).toEqual([]);

    await withTransaction(pool, async (client) => {
      await store.appendToStream(stream, [anEvent()], 'no_stream', { transaction: client });
      expect(await store.readStream(stream)).toEqual([]); // not visible before commit
    });
    expect(await store.readStream(stream)).toHaveLength(1);
  });
});

describe('lockedTransaction: the stream held against other writers', () => {
  it('makes an append elsewhere wait, then fail its revision check; without the lock it wins', async () => {
    const streamId = randomStreamId();
    await store.appendToStream(streamId, [anEvent(0)], 'no_stream');
    // Another writer, on its own pool: its sessions are told apart in pg_stat_activity.
    const name = `elsewhere-${randomUUID()}`;
    const otherPool = testPool(1, name);
    const otherStore = new PgEventStore(otherPool);
    let elsewhere: Promise<unknown> | undefined;
    await store.lockedTransaction(streamId, async (tx) => {
      elsewhere = otherStore.appendToStream(streamId, [anEvent(1)], 0n).then(
        () => 'appended',
        (err: unknown) => err,
      );
      await lockWaitOrSettled(pool, name, elsewhere);
      const read = await tx.readStream(streamId);
      await tx.appendToStream(streamId, [anEvent(2)], read.at(-1)!.revision);
    });
    expect(await elsewhere).toMatchObject({ name: 'WrongExpectedRevisionError' });
    await otherPool.end();
    expect((await store.readStream(streamId)).map((e) => e.data)).toEqual([{ n: 0 }, { n: 2 }]);

    // The same race in a plain transaction: the other writer commits first, this append loses.
    const other = randomStreamId();
    await store.appendToStream(other, [anEvent(0)], 'no_stream');
    const plain = store.transaction(async (tx) => {
      await store.appendToStream(other, [anEvent(1)], 0n);
      await tx.appendToStream(other, [anEvent(2)], 0n);
    });
    await expect(plain).rejects.toMatchObject({ name: 'WrongExpectedRevisionError' });
  });
});

describe("transaction: the handle's writes commit with the events", () => {
  it("rolls the handle's writes back with the events, and commits them together", async () => {
    const stream = randomStreamId();
    const table = uniqueName('tx_probe');
    await pool.query(`CREATE TABLE ${table} (stream_id text)`);
    try {
      await expect(
        store.transaction(async (tx) => {
          await tx.appendToStream(stream, [anEvent(0)], 'no_stream');
          await tx.handle.query(`INSERT INTO ${table} VALUES ($1)`, [stream]);
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(await store.readStream(stream)).toEqual([]);
      expect((await pool.query(`SELECT stream_id FROM ${table}`)).rows).toEqual([]); // rolled back together

      await store.transaction(async (tx) => {
        const { nextExpectedRevision } = await tx.appendToStream(stream, [anEvent(1)], 'no_stream');
        await tx.appendToStream(stream, [anEvent(2)], nextExpectedRevision);
        expect((await tx.readStream(stream)).map((e) => e.data)).toEqual([{ n: 1 }, { n: 2 }]);
        expect(await store.readStream(stream)).toEqual([]); // outside: not before COMMIT
        await tx.handle.query(`INSERT INTO ${table} VALUES ($1)`, [stream]);
      });
      expect(await store.readStream(stream)).toHaveLength(2);
      expect((await pool.query(`SELECT stream_id FROM ${table}`)).rows).toEqual([{ stream_id: stream }]);
    } finally {
      await pool.query(`DROP TABLE ${table}`);
    }
  });
});

describe('readAll under concurrent transactions (ADR 0002)', () => {
  it('holds back an event committed by a later transaction until an earlier one commits', async () => {
    const from = await headCheckpoint();
    const early = randomStreamId('early');
    const late = randomStreamId('late');
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      // The early transaction inserts first (lower global_position and transaction id) but commits last.
      await store.appendToStream(early, [anEvent(1)], 'no_stream', { transaction: client });
      await store.appendToStream(late, [anEvent(2)], 'no_stream');

      const naive = await pool.query<{ stream_id: string }>(
        'SELECT stream_id FROM events WHERE stream_id = ANY($1) ORDER BY global_position',
        [[early, late]],
      );
      // A reader ordering by position alone would already see `late` and move past `early`.
      expect(naive.rows.map((r) => r.stream_id)).toEqual([late]);

      const before = await store.readAll(from, 1000);
      expect(before.events.filter((e) => e.streamId === early || e.streamId === late)).toEqual([]);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    const seen: string[] = [];
    let checkpoint = from;
    for (let i = 0; i < 200 && seen.length < 2; i++) {
      const page = await store.readAll(checkpoint, 1000);
      for (const e of page.events) if (e.streamId === early || e.streamId === late) seen.push(e.streamId);
      checkpoint = page.checkpoint;
      if (page.events.length === 0) await sleep(10);
    }
    expect(seen).toEqual([early, late]);
  });

  it('never skips or repeats an event with many concurrent writers committing late', async () => {
    const from = await headCheckpoint();
    const prefix = `late-${randomUUID()}`;
    const writers = 10;
    const transactionsPerWriter = 12;
    const expected = new Set<string>();
    const writerPool = testPool(writers);

    let writing = true;
    const seen: string[] = [];
    const naiveSeen = new Set<string>();

    let readerStopped = false;
    const reader = (async () => {
      let checkpoint = from;
      let lastCheckpoint: Checkpoint | undefined;
      while (!readerStopped) {
        const page = await store.readAll(checkpoint, 7);
        for (const e of page.events) {
          if (lastCheckpoint !== undefined)
            expect(store.compareCheckpoints(e.checkpoint, lastCheckpoint)).toBe(1);
          lastCheckpoint = e.checkpoint;
          if (e.streamId.startsWith(prefix)) seen.push(e.id);
        }
        checkpoint = page.checkpoint;
        if (page.events.length === 0) await sleep(2);
      }
    })();

    // A reader that trusts global_position alone: it moves its cursor past events that commit late.
    const naiveReader = (async () => {
      let last = '0';
      const { rows } = await pool.query<{ max: string | null }>(
        'SELECT max(global_position) AS max FROM events',
      );
      last = rows[0]?.max ?? '0';
      while (writing) {
        const page = await pool.query<{ event_id: string; stream_id: string; global_position: string }>(
          'SELECT event_id, stream_id, global_position FROM events WHERE global_position > $1 ORDER BY global_position LIMIT 50',
          [last],
        );
        for (const r of page.rows) {
          if (r.stream_id.startsWith(prefix)) naiveSeen.add(r.event_id);
          last = r.global_position;
        }
        await sleep(1);
      }
    })();

    const writer = async (w: number) => {
      for (let t = 0; t < transactionsPerWriter; t++) {
        const events = Array.from({ length: 1 + Math.floor(Math.random() * 3) }, (_, i) => ({
          id: randomUUID(),
          type: 'Late',
          data: { w, t, i },
        }));
        await withTransaction(writerPool, async (client) => {
          await client.query('SELECT pg_sleep($1)', [Math.random() * 0.01]);
          await store.appendToStream(`${prefix}-${w}`, events, 'any', { transaction: client });
          // the event already has its global position; commit only after a random delay
          await client.query('SELECT pg_sleep($1)', [Math.random() * 0.04]);
        });
        for (const e of events) expected.add(e.id);
      }
    };

    try {
      await Promise.all(Array.from({ length: writers }, (_, w) => writer(w)));
    } finally {
      writing = false;
      await writerPool.end();
    }
    await naiveReader;
    // Keep polling until the reader has caught up (the xmin horizon may briefly lag behind
    // unrelated transactions), then a little longer to catch any duplicate.
    for (let i = 0; i < 500 && seen.length < expected.size; i++) await sleep(20);
    await sleep(100);
    readerStopped = true;
    await reader;

    expect(seen).toHaveLength(expected.size);
    expect(new Set(seen)).toEqual(expected);
    // The scenario really did produce late commits: the naive reader lost some of them.
    expect(naiveSeen.size).toBeLessThan(expected.size);
  });
});
