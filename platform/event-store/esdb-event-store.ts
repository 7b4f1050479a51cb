/**
 * EventStoreDB/KurrentDB adapter of the event store port, over `@eventstore/db-client` (gRPC).
 *
 * - Optimistic concurrency: the server checks the stream revision (esdb-mapping.ts maps the
 *   port's expected revision and the client's WrongExpectedVersionError, with `actual`).
 * - Idempotent appends: the server deduplicates a retried append whose event ids and expected
 *   revision match one it already wrote — it answers success and writes nothing. With `any` that
 *   is best effort (the server's recent-ids cache), so retries should carry an exact revision.
 * - Global order: `$all`, checkpoint `<commit>:<prepare>` (ordered as a pair, checkpoint.ts);
 *   the server's own records (`$`-types, `$`-streams) are skipped.
 * - `transaction(work)`: buffered into one append at commit (esdb-transaction.ts), `handle` is
 *   undefined; see docs/adr/0008-eventstoredb-adapter.md for what that costs the command side.
 *
 * An append reads its events back (one more round trip) so that the result carries every event's
 * checkpoint and creation time as `$all` will show them — the Booking-Checkpoint a client waits on
 * must be the very one the relay publishes.
 */
import { randomUUID } from 'node:crypto';
import {
  BACKWARDS,
  type EventStoreDBClient,
  FORWARDS,
  jsonEvent,
  type JSONType,
  END,
  type Position,
  START,
  StreamNotFoundError,
} from '@eventstore/db-client';
import { compareCheckpoints } from './checkpoint.ts';
import {
  type AppendResult,
  type Checkpoint,
  type EventStore,
  type EventStoreTransaction,
  type EventToAppend,
  type ExpectedRevision,
  type ReadAllResult,
  type ReadStreamOptions,
  type RecordedEvent,
} from './event-store.ts';
import {
  decodeEsdbCheckpoint,
  fromAppendError,
  isSystemEvent,
  type NormalizedRevision,
  normalizeExpected,
  notAfter,
  toEsdbExpectedRevision,
  toRecorded,
} from './esdb-mapping.ts';
import { BufferedTransaction } from './esdb-transaction.ts';

/** The client calls the adapter makes (a fake can stand in for it in unit tests). */
export type EsdbClient = Pick<EventStoreDBClient, 'appendToStream' | 'readStream' | 'readAll'>;

export class EsdbEventStore implements EventStore<never> {
  readonly #client: EsdbClient;

  constructor(client: EsdbClient) {
    this.#client = client;
  }

  async appendToStream(
    streamId: string,
    events: readonly EventToAppend[],
    expectedRevision: ExpectedRevision,
  ): Promise<AppendResult> {
    if (events.length === 0) throw new RangeError('appendToStream needs at least one event');
    const normalized = normalizeExpected(expectedRevision); // reported as PostgreSQL reports it
    const expected = toEsdbExpectedRevision(normalized);
    const toSend = events.map((e) =>
      jsonEvent({
        id: e.id ?? randomUUID(),
        type: e.type,
        data: e.data as JSONType,
        metadata: e.metadata ?? {},
      }),
    );
    let next: bigint;
    try {
      ({ nextExpectedRevision: next } = await this.#client.appendToStream(streamId, toSend, {
        expectedRevision: expected,
      }));
    } catch (err) {
      throw fromAppendError(err, streamId, normalized);
    }
    const first = firstRevision(normalized, next, events.length);
    const recorded = await this.readStream(streamId, { fromRevision: first, maxCount: events.length });
    const last = recorded[recorded.length - 1];
    if (!last || recorded.some((e, i) => e.id !== toSend[i]!.id)) {
      throw new Error(
        `EventStoreDB: ${streamId} does not hold the events just appended at ${first}..${next}`,
      );
    }
    return { nextExpectedRevision: last.revision, checkpoint: last.checkpoint, events: recorded };
  }

  async readStream(streamId: string, opts: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const read = this.#client.readStream(streamId, {
      direction: FORWARDS,
      fromRevision: BigInt(opts.fromRevision ?? 0),
      ...(opts.maxCount === undefined ? {} : { maxCount: opts.maxCount }),
    });
    return collect(read, (e) => (e.event ? toRecorded(e.event) : undefined)).catch(emptyIfNoStream);
  }

  /**
   * Up to `batchSize` of the platform's events after `from` in `$all`. The server's records are
   * skipped, so a page may take several reads; the checkpoint is the last returned event's (the
   * port's rule), so a trailing run of server records is read again by the next call — harmless.
   */
  async readAll(from: Checkpoint | undefined, batchSize: number): Promise<ReadAllResult> {
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new RangeError(`Invalid batch size ${batchSize}`);
    const events: RecordedEvent[] = [];
    let position = from === undefined ? undefined : decodeEsdbCheckpoint(from);
    const chunk = batchSize + 1; // reading from a position includes the event at it
    for (;;) {
      const read = this.#client.readAll({
        direction: FORWARDS,
        fromPosition: position ?? START,
        maxCount: chunk,
      });
      const page = await collect(read, (e) => e.event);
      for (const e of page) {
        if (position && notAfter(e.position, position)) continue;
        position = e.position;
        if (!isSystemEvent(e.type, e.streamId)) events.push(toRecorded(e));
        if (events.length === batchSize) return { events, checkpoint: events[events.length - 1]!.checkpoint };
      }
      if (page.length < chunk) return { events, checkpoint: events.at(-1)?.checkpoint ?? from };
    }
  }

  /**
   * The last platform event's checkpoint: `$all` read backwards from its end, past the server's
   * own records (statistics are written all the time, so the very last record is seldom ours).
   * Whether a backwards read includes the record at its start position is not relied upon.
   */
  async head(): Promise<Checkpoint | undefined> {
    let position: Position | undefined;
    const chunk = 32;
    for (;;) {
      const read = this.#client.readAll({
        direction: BACKWARDS,
        fromPosition: position ?? END,
        maxCount: chunk,
      });
      const page = await collect(read, (e) => e.event);
      for (const e of page) {
        if (position && notAfter(position, e.position)) continue;
        position = e.position;
        if (!isSystemEvent(e.type, e.streamId)) return toRecorded(e).checkpoint;
      }
      if (page.length < chunk) return undefined;
    }
  }

  async streamAt(checkpoint: Checkpoint): Promise<string | undefined> {
    const position = decodeEsdbCheckpoint(checkpoint);
    const read = this.#client.readAll({ direction: FORWARDS, fromPosition: position, maxCount: 1 });
    const [first] = await collect(read, (e) => e.event);
    const exact = first && notAfter(first.position, position) && notAfter(position, first.position);
    return exact && !isSystemEvent(first.type, first.streamId) ? first.streamId : undefined;
  }

  async transaction<T>(work: (tx: EventStoreTransaction<never>) => Promise<T>): Promise<T> {
    const tx = new BufferedTransaction({
      readStream: (streamId, opts) => this.readStream(streamId, opts),
      currentRevision: (streamId) => this.#currentRevision(streamId),
      appendToStream: (streamId, events, expected) => this.appendToStream(streamId, events, expected),
    });
    let result: T;
    try {
      result = await work(tx);
    } catch (err) {
      tx.rollback();
      throw err;
    }
    await tx.commit();
    return result;
  }

  compareCheckpoints(a: Checkpoint, b: Checkpoint): number {
    return compareCheckpoints(a, b);
  }

  async #currentRevision(streamId: string): Promise<bigint | 'no_stream'> {
    const read = this.#client.readStream(streamId, { direction: BACKWARDS, fromRevision: END, maxCount: 1 });
    const [last] = await collect(read, (e) => e.event?.revision).catch(emptyIfNoStream);
    return last ?? 'no_stream';
  }
}

/**
 * Where the append's events start: right after an exact expected revision (also when the server
 * deduplicated a retry, whatever it reports as current), else the last `n` up to `next`.
 */
function firstRevision(expected: NormalizedRevision, next: bigint, n: number): bigint {
  if (expected === 'no_stream') return 0n;
  if (typeof expected === 'bigint') return expected + 1n;
  return next - BigInt(n) + 1n;
}

/** Drains a streaming read, keeping what `pick` returns (undefined drops the entry). */
async function collect<E, R>(read: AsyncIterable<E>, pick: (e: E) => R | undefined): Promise<R[]> {
  const out: R[] = [];
  for await (const e of read) {
    const picked = pick(e);
    if (picked !== undefined) out.push(picked);
  }
  return out;
}

function emptyIfNoStream(err: unknown): never[] {
  if (err instanceof StreamNotFoundError) return [];
  throw err;
}
