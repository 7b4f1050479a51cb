/**
 * The event store port. Written so that a PostgreSQL adapter (pg-event-store.ts) and, later, an
 * EventStoreDB/KurrentDB adapter can both implement it: stream revisions are bigints starting at
 * 0, expected revisions follow EventStoreDB's vocabulary, and positions in the global order are
 * opaque string checkpoints that only the adapter can interpret or compare.
 */

/** Opaque position in the global order. Compare with `EventStore.compareCheckpoints` (or checkpoint.ts without a store). */
export type Checkpoint = string & { readonly __brand?: 'Checkpoint' };

/**
 * - `'any'`: no check;
 * - `'no_stream'`: the stream must not exist yet;
 * - `'stream_exists'`: the stream must exist (any revision);
 * - a number/bigint: the revision of the stream's last event must be exactly this.
 */
export type ExpectedRevision = 'any' | 'no_stream' | 'stream_exists' | bigint | number;

/** What travels with every event, for tracing and audit. */
export interface EventMetadata {
  correlationId?: string;
  causationId?: string;
  /** W3C traceparent of the request that produced the event. */
  traceparent?: string;
  idempotencyKey?: string;
  actor?: { id: string; role: string };
  [key: string]: unknown;
}

export interface EventToAppend<Type extends string = string, Data = unknown> {
  /** Generated (uuid v4) when absent. */
  id?: string;
  type: Type;
  data: Data;
  metadata?: EventMetadata;
}

export interface RecordedEvent<Type extends string = string, Data = unknown> {
  id: string;
  streamId: string;
  /** 0 for the first event of a stream. */
  revision: bigint;
  /** Monotonic position assigned at insert time; informational (see `checkpoint` for ordering). */
  globalPosition: bigint;
  /** The position of this event in the global order, to resume `readAll` after it. */
  checkpoint: Checkpoint;
  type: Type;
  data: Data;
  metadata: EventMetadata;
  createdAt: Date;
}

export interface AppendResult {
  /** Revision of the stream's last event after the append: pass it as the next expected revision. */
  nextExpectedRevision: bigint;
  /** Checkpoint of the last appended event. */
  checkpoint: Checkpoint;
  events: RecordedEvent[];
}

export interface AppendOptions<Tx> {
  /** Append inside the caller's transaction; the caller commits or rolls back. */
  transaction?: Tx;
}

export interface ReadStreamOptions {
  /** First revision to return (inclusive). Default 0. */
  fromRevision?: bigint | number;
  maxCount?: number;
}

export interface ReadAllResult {
  events: RecordedEvent[];
  /** Pass back to continue after the last returned event (unchanged when nothing was returned). */
  checkpoint: Checkpoint | undefined;
}

/**
 * One transaction of the store: its reads see its own appends, and everything in it commits or
 * rolls back together. `handle` is the adapter's own transaction (for PostgreSQL the client inside
 * BEGIN): the caller never looks into it, it only hands it to another adapter of the same
 * database (an idempotency record, an index) whose writes must commit with the events.
 */
export interface EventStoreTransaction<Tx> {
  readonly handle: Tx;
  readStream(streamId: string, opts?: ReadStreamOptions): Promise<RecordedEvent[]>;
  appendToStream(
    streamId: string,
    events: readonly EventToAppend[],
    expectedRevision: ExpectedRevision,
  ): Promise<AppendResult>;
}

export interface EventStore<Tx = never> {
  /** Runs `work` in one transaction: commits when it resolves, rolls back and rethrows when it throws. */
  transaction<T>(work: (tx: EventStoreTransaction<Tx>) => Promise<T>): Promise<T>;

  /**
   * As `transaction`, but it first holds off every other writer of `streamId` until it ends: an
   * append elsewhere waits, then fails its revision check. A writer that keeps losing optimistic
   * races takes this to be sure of its next attempt. Adapters that cannot lock leave it out.
   */
  lockedTransaction?<T>(streamId: string, work: (tx: EventStoreTransaction<Tx>) => Promise<T>): Promise<T>;

  appendToStream(
    streamId: string,
    events: readonly EventToAppend[],
    expectedRevision: ExpectedRevision,
    opts?: AppendOptions<Tx>,
  ): Promise<AppendResult>;

  /** The stream's events in revision order; empty when the stream does not exist. */
  readStream(streamId: string, opts?: ReadStreamOptions): Promise<RecordedEvent[]>;

  /**
   * Up to `batchSize` events after `from` (undefined = from the start) in the one global order.
   * Never skips an event: an event is only returned once no transaction that could still
   * insert an event before it is running.
   */
  readAll(from: Checkpoint | undefined, batchSize: number): Promise<ReadAllResult>;

  /**
   * The checkpoint of the last committed event in the global order; undefined while the store is
   * empty. Unlike `readAll` it waits for nothing: every checkpoint an append has returned is at or
   * before it, so a reader holding a checkpoint past it knows that checkpoint was never issued.
   */
  head(): Promise<Checkpoint | undefined>;

  /**
   * The stream of the event at `checkpoint` (a checkpoint an append returned); undefined when no
   * event is there. Lets a reader that spans streams judge the one write its client asked about.
   */
  streamAt(checkpoint: Checkpoint): Promise<string | undefined>;

  /** Negative, zero or positive as `a` is before, at or after `b` in the global order. */
  compareCheckpoints(a: Checkpoint, b: Checkpoint): number;
}

/** The optimistic concurrency check failed: someone else appended first (or the stream's existence differs). */
export class WrongExpectedRevisionError extends Error {
  readonly streamId: string;
  readonly expected: ExpectedRevision;
  /** Current revision of the last event, `'no_stream'`, or undefined when unknown. */
  readonly actual: bigint | 'no_stream' | undefined;

  constructor(streamId: string, expected: ExpectedRevision, actual: bigint | 'no_stream' | undefined) {
    super(
      `Wrong expected revision for ${streamId}: expected ${String(expected)}, actual ${actual === undefined ? 'unknown' : String(actual)}`,
    );
    this.name = 'WrongExpectedRevisionError';
    this.streamId = streamId;
    this.expected = expected;
    this.actual = actual;
  }
}

export class InvalidCheckpointError extends Error {
  constructor(checkpoint: string) {
    super(`Invalid checkpoint: ${JSON.stringify(checkpoint)}`);
    this.name = 'InvalidCheckpointError';
  }
}
