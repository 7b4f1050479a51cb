/**
 * Checkpoints seen from outside the store. A reader that only holds checkpoints (the query API's
 * read-your-writes compares the one a command returned with the one a projection applied) needs
 * to tell a well-formed checkpoint from garbage and which of two comes first, without a store
 * instance and without knowing which store wrote them.
 *
 * That is possible because every adapter's checkpoint is two unsigned integers written
 * `<major>:<minor>` and ordered as a pair: PostgreSQL's (transaction id, global position), and
 * EventStoreDB/KurrentDB's (commit, prepare) position. What the two numbers mean stays the
 * adapter's business; pg-event-store.ts decodes them with `checkpointParts`.
 */
import { type Checkpoint, InvalidCheckpointError } from './event-store.ts';

const CHECKPOINT = /^(\d{1,20}):(\d{1,20})$/;

/** Whether a string (a request header, a stored field) is a checkpoint a store could have returned. */
export const isCheckpoint = (value: string): value is Checkpoint => CHECKPOINT.test(value);

/** The two integers of a checkpoint, for adapters; InvalidCheckpointError for anything else. */
export function checkpointParts(checkpoint: Checkpoint): [major: bigint, minor: bigint] {
  const m = CHECKPOINT.exec(checkpoint);
  if (!m?.[1] || !m[2]) throw new InvalidCheckpointError(checkpoint);
  return [BigInt(m[1]), BigInt(m[2])];
}

/**
 * Negative, zero or positive as `a` is before, at or after `b` in the global order (the same
 * order as `EventStore.compareCheckpoints`); InvalidCheckpointError for a malformed one.
 */
export function compareCheckpoints(a: Checkpoint, b: Checkpoint): number {
  const [x1, x2] = checkpointParts(a);
  const [y1, y2] = checkpointParts(b);
  if (x1 !== y1) return x1 < y1 ? -1 : 1;
  if (x2 !== y2) return x2 < y2 ? -1 : 1;
  return 0;
}
