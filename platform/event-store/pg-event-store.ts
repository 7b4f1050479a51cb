/**
 * PostgreSQL adapter of the event store port (schema: infra/migrations/001_event_store.sql).
 *
 * - Optimistic concurrency: `event_streams.revision` is moved with a conditional UPDATE/INSERT
 *   (a concurrent writer blocks on the row lock, then sees the new revision and matches nothing),
 *   backed by UNIQUE (stream_id, stream_revision) on `events`.
 * - Global order: (transaction_id, global_position), read only below the transaction-id
 *   high-water mark `pg_snapshot_xmin(pg_current_snapshot())`, so late commits are never skipped
 *   (docs/adr/0002-event-store-global-order.md). The checkpoint is "<transaction_id>:<position>".
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import {
  type Pool,
  type PoolClient,
  type Queryable,
  sqlState,
  violatedConstraint,
  withTransaction,
} from '../pg.ts';
import {
  type AppendOptions,
  type AppendResult,
  type Checkpoint,
  type EventMetadata,
  type EventStore,
  type EventStoreTransaction,
  type EventToAppend,
  type ExpectedRevision,
  type ReadAllResult,
  type ReadStreamOptions,
  type RecordedEvent,
  WrongExpectedRevisionError,
} from './event-store.ts';
import { checkpointParts, compareCheckpoints } from './checkpoint.ts';

export type AppendOutcome = 'ok' | 'conflict' | 'error';

/** Runs an append and reports its duration and outcome (a revision conflict is not an error). */
export async function observedAppend<T>(
  observe: ((seconds: number, outcome: AppendOutcome) => void) | undefined,
  append: () => Promise<T>,
): Promise<T> {
  const started = performance.now();
  let outcome: AppendOutcome = 'error';
  try {
    const result = await append();
    outcome = 'ok';
    return result;
  } catch (err) {
    if (err instanceof WrongExpectedRevisionError) outcome = 'conflict';
    throw err;
  } finally {
    observe?.((performance.now() - started) / 1000, outcome);
  }
}

export interface PgEventStoreOptions {
  /** Called after every append with its duration; used for the append-latency histogram. */
  observeAppend?: (seconds: number, outcome: AppendOutcome) => void;
}

interface EventRow {
  global_position: string;
  transaction_id: string;
  event_id: string;
  stream_id: string;
  stream_revision: string;
  event_type: string;
  data: unknown;
  metadata: EventMetadata | null;
  created_at: Date;
}

const COLUMNS =
  'global_position, transaction_id, event_id, stream_id, stream_revision, event_type, data, metadata, created_at';

export function encodeCheckpoint(transactionId: bigint | string, position: bigint | string): Checkpoint {
  return `${String(transactionId)}:${String(position)}`;
}

export function decodeCheckpoint(checkpoint: Checkpoint): { transactionId: bigint; position: bigint } {
  const [transactionId, position] = checkpointParts(checkpoint);
  return { transactionId, position };
}

/** (transaction id, position) order: the store-agnostic pair order of checkpoint.ts. */
export { compareCheckpoints };

const toRecorded = (row: EventRow): RecordedEvent => ({
  id: row.event_id,
  streamId: row.stream_id,
  revision: BigInt(row.stream_revision),
  globalPosition: BigInt(row.global_position),
  checkpoint: encodeCheckpoint(row.transaction_id, row.global_position),
  type: row.event_type,
  data: row.data,
  metadata: row.metadata ?? {},
  createdAt: row.created_at,
});

function normalizeExpected(expected: ExpectedRevision): 'any' | 'no_stream' | 'stream_exists' | bigint {
  if (typeof expected === 'string') return expected;
  if (typeof expected === 'number') {
    if (!Number.isSafeInteger(expected) || expected < 0)
      throw new RangeError(`Invalid expected revision ${expected}`);
    return BigInt(expected);
  }
  if (expected < 0n) throw new RangeError(`Invalid expected revision ${expected}`);
  return expected;
}

export class PgEventStore implements EventStore<PoolClient> {
  readonly #pool: Pool;
  readonly #observeAppend: PgEventStoreOptions['observeAppend'];

  constructor(pool: Pool, opts: PgEventStoreOptions = {}) {
    this.#pool = pool;
    this.#observeAppend = opts.observeAppend;
  }

  async appendToStream(
    streamId: string,
    events: readonly EventToAppend[],
    expectedRevision: ExpectedRevision,
    opts: AppendOptions<PoolClient> = {},
  ): Promise<AppendResult> {
    if (events.length === 0) throw new RangeError('appendToStream needs at least one event');
    const expected = normalizeExpected(expectedRevision);
    // One statement, so it is atomic on its own: no BEGIN/COMMIT needed without a caller transaction.
    return observedAppend(this.#observeAppend, () =>
      this.#append(opts.transaction ?? this.#pool, streamId, events, expected),
    );
  }

  /**
   * Moves the stream's revision and inserts the events in ONE statement (a data-modifying CTE):
   * when the revision check matches nothing, nothing is inserted and the append is a conflict.
   * A concurrent writer of the same stream blocks on the `event_streams` row lock, then re-checks
   * the revision against the committed value (READ COMMITTED re-evaluation) and matches nothing.
   */
  async #append(
    db: Queryable,
    streamId: string,
    events: readonly EventToAppend[],
    expected: 'any' | 'no_stream' | 'stream_exists' | bigint,
  ): Promise<AppendResult> {
    const n = String(events.length);
    let name: string;
    let moveRevision: string;
    const params: unknown[] = [streamId, n];
    if (expected === 'no_stream') {
      name = 'es_append_no_stream';
      moveRevision = `INSERT INTO event_streams (stream_id, revision) VALUES ($1, $2::bigint - 1)
         ON CONFLICT (stream_id) DO NOTHING RETURNING revision`;
    } else if (expected === 'any') {
      name = 'es_append_any';
      moveRevision = `INSERT INTO event_streams (stream_id, revision) VALUES ($1, $2::bigint - 1)
         ON CONFLICT (stream_id) DO UPDATE SET revision = event_streams.revision + $2, updated_at = now()
         RETURNING revision`;
    } else if (expected === 'stream_exists') {
      name = 'es_append_stream_exists';
      moveRevision = `UPDATE event_streams SET revision = revision + $2, updated_at = now()
         WHERE stream_id = $1 RETURNING revision`;
    } else {
      name = 'es_append_exact';
      moveRevision = `UPDATE event_streams SET revision = revision + $2, updated_at = now()
         WHERE stream_id = $1 AND revision = $7 RETURNING revision`;
      params.push(String(expected));
    }
    params.splice(
      2,
      0,
      events.map((e) => e.id ?? randomUUID()),
      events.map((e) => e.type),
      events.map((e) => JSON.stringify(e.data)),
      events.map((e) => JSON.stringify(e.metadata ?? {})),
    );
    let inserted: { rows: EventRow[] };
    try {
      inserted = await db.query<EventRow>({
        name,
        text: `WITH moved AS (${moveRevision})
          INSERT INTO events (event_id, stream_id, stream_revision, event_type, data, metadata)
          SELECT e.id, $1, moved.revision - $2::bigint + e.ord, e.type, e.data, e.metadata
          FROM moved, unnest($3::uuid[], $4::text[], $5::jsonb[], $6::jsonb[]) WITH ORDINALITY
               AS e(id, type, data, metadata, ord)
          ORDER BY e.ord
          RETURNING ${COLUMNS}`,
        values: params,
      });
    } catch (err) {
      if (sqlState(err) === '23505' && violatedConstraint(err) === 'events_stream_revision_key') {
        throw new WrongExpectedRevisionError(streamId, expected, undefined);
      }
      throw err;
    }
    if (inserted.rows.length === 0) {
      throw new WrongExpectedRevisionError(streamId, expected, await this.#currentRevision(db, streamId));
    }
    const recorded = inserted.rows.map(toRecorded).sort((a, b) => (a.revision < b.revision ? -1 : 1));
    const lastEvent = recorded[recorded.length - 1]!;
    return { nextExpectedRevision: lastEvent.revision, checkpoint: lastEvent.checkpoint, events: recorded };
  }

  async #currentRevision(db: Queryable, streamId: string): Promise<bigint | 'no_stream'> {
    const { rows } = await db.query<{ revision: string }>(
      'SELECT revision FROM event_streams WHERE stream_id = $1',
      [streamId],
    );
    return rows[0] ? BigInt(rows[0].revision) : 'no_stream';
  }

  async transaction<T>(work: (tx: EventStoreTransaction<PoolClient>) => Promise<T>): Promise<T> {
    return withTransaction(this.#pool, (client) =>
      work({
        handle: client,
        readStream: (streamId, opts) => this.#readStream(client, streamId, opts),
        appendToStream: (streamId, events, expected) =>
          this.appendToStream(streamId, events, expected, { transaction: client }),
      }),
    );
  }

  /** The stream's row lock: an append's revision move waits for it (a stream not yet created has none). */
  async lockedTransaction<T>(
    streamId: string,
    work: (tx: EventStoreTransaction<PoolClient>) => Promise<T>,
  ): Promise<T> {
    return this.transaction(async (tx) => {
      await tx.handle.query({
        name: 'es_lock_stream',
        text: 'SELECT 1 FROM event_streams WHERE stream_id = $1 FOR UPDATE',
        values: [streamId],
      });
      return work(tx);
    });
  }

  readStream(streamId: string, opts: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    return this.#readStream(this.#pool, streamId, opts);
  }

  async #readStream(db: Queryable, streamId: string, opts: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const from = BigInt(opts.fromRevision ?? 0);
    const limit = opts.maxCount ?? null;
    const { rows } = await db.query<EventRow>({
      name: 'es_read_stream',
      text: `SELECT ${COLUMNS} FROM events
       WHERE stream_id = $1 AND stream_revision >= $2
       ORDER BY stream_revision
       LIMIT $3`,
      values: [streamId, String(from), limit],
    });
    return rows.map(toRecorded);
  }

  async readAll(from: Checkpoint | undefined, batchSize: number): Promise<ReadAllResult> {
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new RangeError(`Invalid batch size ${batchSize}`);
    const position = from === undefined ? { transactionId: 0n, position: 0n } : decodeCheckpoint(from);
    const { rows } = await this.#pool.query<EventRow>({
      name: 'es_read_all',
      text: `SELECT ${COLUMNS} FROM events
       WHERE (transaction_id, global_position) > ($1::xid8, $2::bigint)
         AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
       ORDER BY transaction_id, global_position
       LIMIT $3`,
      values: [String(position.transactionId), String(position.position), batchSize],
    });
    const events = rows.map(toRecorded);
    return { events, checkpoint: events.at(-1)?.checkpoint ?? from };
  }

  async head(): Promise<Checkpoint | undefined> {
    // Every committed event counts (no visibility horizon, unlike readAll): a checkpoint is only
    // returned after its commit, so it is at or below this. Served by events_global_order_idx.
    const { rows } = await this.#pool.query<{ transaction_id: string; global_position: string }>({
      name: 'es_head',
      text: `SELECT transaction_id, global_position FROM events
       ORDER BY transaction_id DESC, global_position DESC LIMIT 1`,
    });
    const row = rows[0];
    return row ? encodeCheckpoint(row.transaction_id, row.global_position) : undefined;
  }

  async streamAt(checkpoint: Checkpoint): Promise<string | undefined> {
    const [, position] = checkpointParts(checkpoint);
    const { rows } = await this.#pool.query<{ stream_id: string }>({
      name: 'es_stream_at',
      text: 'SELECT stream_id FROM events WHERE global_position = $1',
      values: [position.toString()],
    });
    return rows[0]?.stream_id;
  }

  compareCheckpoints(a: Checkpoint, b: Checkpoint): number {
    return compareCheckpoints(a, b);
  }
}
