/**
 * The pure half of the EventStoreDB/KurrentDB adapter (esdb-event-store.ts): how the port's
 * vocabulary maps onto the client's and back. No I/O here, so it is unit-tested without a server.
 *
 * - Expected revisions: the port borrowed EventStoreDB's words, so the map is one to one
 *   (`'any'`, `'no_stream'`, `'stream_exists'`, an exact bigint); numbers become bigints.
 * - Conflicts: the client's WrongExpectedVersionError becomes WrongExpectedRevisionError with the
 *   server's current revision as `actual` (`'no_stream'` when the stream does not exist).
 * - Checkpoints: a position in `$all` is (commit, prepare), ordered as a pair — exactly the
 *   `<major>:<minor>` pair of checkpoint.ts, so `compareCheckpoints` there orders them too.
 */
import {
  ANY,
  type AppendExpectedRevision,
  NO_STREAM,
  type Position,
  type ResolvedEvent,
  STREAM_EXISTS,
  WrongExpectedVersionError,
} from '@eventstore/db-client';
import { checkpointParts } from './checkpoint.ts';
import {
  type Checkpoint,
  type EventMetadata,
  type ExpectedRevision,
  type RecordedEvent,
  WrongExpectedRevisionError,
} from './event-store.ts';

export type NormalizedRevision = 'any' | 'no_stream' | 'stream_exists' | bigint;

/** The port's expected revision with numbers as bigints; RangeError for a negative or fractional one. */
export function normalizeExpected(expected: ExpectedRevision): NormalizedRevision {
  if (typeof expected === 'string') return expected;
  const revision = typeof expected === 'number' ? safeBigInt(expected) : expected;
  if (revision < 0n) throw new RangeError(`Invalid expected revision ${expected}`);
  return revision;
}

const safeBigInt = (n: number): bigint => {
  if (!Number.isSafeInteger(n)) throw new RangeError(`Invalid expected revision ${n}`);
  return BigInt(n);
};

/** The client's `expectedRevision` for the port's one. */
export function toEsdbExpectedRevision(expected: ExpectedRevision): AppendExpectedRevision {
  const revision = normalizeExpected(expected);
  switch (revision) {
    case 'any':
      return ANY;
    case 'no_stream':
      return NO_STREAM;
    case 'stream_exists':
      return STREAM_EXISTS;
    default:
      return revision;
  }
}

/** WrongExpectedVersionError → WrongExpectedRevisionError (with `actual`); anything else unchanged. */
export function fromAppendError(err: unknown, streamId: string, expected: ExpectedRevision): unknown {
  if (!(err instanceof WrongExpectedVersionError)) return err;
  const actual = err.actualVersion === NO_STREAM ? 'no_stream' : err.actualVersion;
  return new WrongExpectedRevisionError(streamId, expected, actual);
}

export function encodeEsdbCheckpoint(position: Position): Checkpoint {
  return `${String(position.commit)}:${String(position.prepare)}`;
}

/** InvalidCheckpointError for anything a store could not have returned. */
export function decodeEsdbCheckpoint(checkpoint: Checkpoint): Position {
  const [commit, prepare] = checkpointParts(checkpoint);
  return { commit, prepare };
}

/** Whether `a` is at or before `b` in `$all`. */
export const notAfter = (a: Position, b: Position): boolean =>
  a.commit < b.commit || (a.commit === b.commit && a.prepare <= b.prepare);

/**
 * The server's own records (`$`-prefixed types: stream metadata `$metadata`, links `$>`,
 * statistics, projection state) and anything in a `$`-prefixed stream are not the platform's events.
 */
export const isSystemEvent = (type: string, streamId: string): boolean =>
  type.startsWith('$') || streamId.startsWith('$');

type EsdbRecorded = NonNullable<ResolvedEvent['event']>;

/**
 * The port's RecordedEvent for one the server returned. `globalPosition` is the commit position
 * (informational, as the port says); the position is required: servers before 22.6 do not send
 * it with stream reads, and without it an event could not be placed in the global order.
 */
export function toRecorded(event: EsdbRecorded): RecordedEvent {
  const { position } = event;
  if (!position)
    throw new Error(`EventStoreDB returned ${event.id} without a position (server older than 22.6?)`);
  return {
    id: event.id,
    streamId: event.streamId,
    revision: event.revision,
    globalPosition: position.commit,
    checkpoint: encodeEsdbCheckpoint(position),
    type: event.type,
    data: event.data,
    metadata: metadataOf(event.metadata),
    createdAt: event.created,
  };
}

const metadataOf = (metadata: unknown): EventMetadata =>
  metadata !== null && typeof metadata === 'object' && !(metadata instanceof Uint8Array)
    ? (metadata as EventMetadata)
    : {};
