/**
 * `transaction(work)` of the EventStoreDB/KurrentDB adapter. EventStoreDB has no multi-statement
 * transactions: one append (of any number of events, to ONE stream) is its only atomic write. So
 * the transaction buffers the work's appends and issues them as one append once `work` resolved:
 *
 * - one stream per transaction: an append to a second stream throws (two appends at commit could
 *   not both succeed or both fail);
 * - the expected revision is pinned when the transaction first appends to the stream — the given
 *   bigint or `no_stream` as is, `any`/`stream_exists` as the revision read then — and the server
 *   checks it at commit. So a writer appending in between is a conflict even under `any` (stricter
 *   than PostgreSQL, where `any` never conflicts), and the revisions seen inside are exactly the
 *   ones committed;
 * - later appends of the same transaction chain on the buffered ones (checked here, at once);
 * - reads of the stream inside see the stream as pinned plus the buffered events;
 * - work throws → nothing is sent; the commit conflicts → WrongExpectedRevisionError from
 *   `transaction`, nothing written;
 * - what only the server assigns — checkpoint, global position, creation time — is unknown until
 *   commit: reading it from a result inside the work throws CheckpointPendingError; the same
 *   objects carry the committed values once `transaction` resolved;
 * - `handle` is undefined: no other adapter can write in the same atomic step (the PostgreSQL
 *   store's guarantee that an index row or an Idempotency-Key completion commits with the events
 *   is what is lost; docs/adr/0008-eventstoredb-adapter.md).
 */
import { randomUUID } from 'node:crypto';
import {
  type AppendResult,
  type EventStoreTransaction,
  type EventToAppend,
  type ExpectedRevision,
  type ReadStreamOptions,
  type RecordedEvent,
  WrongExpectedRevisionError,
} from './event-store.ts';
import { type NormalizedRevision, normalizeExpected } from './esdb-mapping.ts';

/** What the transaction needs of the store: plain reads and the one real append at commit. */
export interface StoreAccess {
  readStream(streamId: string, opts?: ReadStreamOptions): Promise<RecordedEvent[]>;
  /** The revision of the stream's last event, or `'no_stream'`. */
  currentRevision(streamId: string): Promise<bigint | 'no_stream'>;
  appendToStream(
    streamId: string,
    events: readonly EventToAppend[],
    expected: bigint | 'no_stream',
  ): Promise<AppendResult>;
}

export class CheckpointPendingError extends Error {
  constructor(field: string) {
    super(
      `EventStoreDB assigns ${field} when the transaction's single append commits; read it after transaction() resolved`,
    );
    this.name = 'CheckpointPendingError';
  }
}

type ServerAssigned = 'checkpoint' | 'globalPosition' | 'createdAt';

/** One buffered event: what the work gave, and the server's record once committed. */
interface Slot {
  event: EventToAppend & { id: string };
  revision: bigint;
  committed?: RecordedEvent;
}

interface Buffered {
  streamId: string;
  /** What the commit's append expects: the stream as the transaction first saw it. */
  base: bigint | 'no_stream';
  slots: Slot[];
}

export class BufferedTransaction implements EventStoreTransaction<never> {
  /** No transaction object exists that another adapter could join. */
  readonly handle = undefined as never;
  readonly #store: StoreAccess;
  #buffered: Buffered | undefined;
  #open = true;

  constructor(store: StoreAccess) {
    this.#store = store;
  }

  async appendToStream(
    streamId: string,
    events: readonly EventToAppend[],
    expectedRevision: ExpectedRevision,
  ): Promise<AppendResult> {
    if (!this.#open) throw new Error('The EventStoreDB transaction has already ended');
    if (events.length === 0) throw new RangeError('appendToStream needs at least one event');
    const expected = normalizeExpected(expectedRevision);
    const buffered = this.#buffered ?? (await this.#pin(streamId, expectedRevision));
    if (buffered.streamId !== streamId) {
      throw new Error(
        `An EventStoreDB transaction appends to one stream (${buffered.streamId}), not also ${streamId}: its only atomic write is one append`,
      );
    }
    this.#buffered = buffered;
    checkChain(buffered, expected);
    const first = nextRevision(head(buffered));
    const slots = events.map((e, i) => ({
      event: { ...e, id: e.id ?? randomUUID() },
      revision: first + BigInt(i),
    }));
    buffered.slots.push(...slots);
    return pendingResult(streamId, slots);
  }

  async readStream(streamId: string, opts: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const buffered = this.#buffered;
    if (buffered?.streamId !== streamId) return this.#store.readStream(streamId, opts);
    const from = BigInt(opts.fromRevision ?? 0);
    const stored = buffered.base === 'no_stream' ? [] : await this.#store.readStream(streamId, opts);
    const pinned = stored.filter((e) => buffered.base !== 'no_stream' && e.revision <= buffered.base);
    const mine = buffered.slots.filter((s) => s.revision >= from).map((s) => pendingEvent(streamId, s));
    return [...pinned, ...mine].slice(0, opts.maxCount ?? Infinity);
  }

  /** Sends the buffered events as one append, expecting the pinned revision; settles the results. */
  async commit(): Promise<void> {
    this.#open = false;
    const buffered = this.#buffered;
    if (!buffered) return;
    const { events } = await this.#store.appendToStream(
      buffered.streamId,
      buffered.slots.map((s) => s.event),
      buffered.base,
    );
    buffered.slots.forEach((slot, i) => (slot.committed = events[i]));
  }

  /** The work threw: nothing was sent, and nothing will be. */
  rollback(): void {
    this.#open = false;
    this.#buffered = undefined;
  }

  async #pin(streamId: string, expected: ExpectedRevision): Promise<Buffered> {
    const revision = normalizeExpected(expected);
    if (revision === 'no_stream' || typeof revision === 'bigint')
      return { streamId, base: revision, slots: [] };
    const current = await this.#store.currentRevision(streamId);
    if (revision === 'stream_exists' && current === 'no_stream') {
      throw new WrongExpectedRevisionError(streamId, revision, 'no_stream');
    }
    return { streamId, base: current, slots: [] };
  }
}

/** The stream's last revision as this transaction sees it (pinned, plus what it buffered). */
const head = (b: Buffered): bigint | 'no_stream' =>
  b.slots.length === 0 ? b.base : b.slots[b.slots.length - 1]!.revision;

const nextRevision = (revision: bigint | 'no_stream'): bigint =>
  revision === 'no_stream' ? 0n : revision + 1n;

/** A later append of the same transaction must expect what the earlier ones left (as the server would). */
function checkChain(b: Buffered, expected: NormalizedRevision): void {
  const current = head(b);
  const ok =
    expected === 'any' || (expected === 'stream_exists' && current !== 'no_stream') || expected === current;
  if (!ok) throw new WrongExpectedRevisionError(b.streamId, expected, current);
}

function pendingResult(streamId: string, slots: readonly Slot[]): AppendResult {
  const last = slots[slots.length - 1]!;
  const result = { nextExpectedRevision: last.revision, events: slots.map((s) => pendingEvent(streamId, s)) };
  return serverAssigned(result, ['checkpoint'], last) as AppendResult;
}

function pendingEvent(streamId: string, slot: Slot): RecordedEvent {
  const { id, type, data, metadata } = slot.event;
  const known = { id, streamId, revision: slot.revision, type, data, metadata: metadata ?? {} };
  return serverAssigned(known, ['globalPosition', 'checkpoint', 'createdAt'], slot) as RecordedEvent;
}

/** Adds getters that throw until the slot is committed, then answer the server's values. */
function serverAssigned<T extends object>(target: T, fields: readonly ServerAssigned[], slot: Slot): T {
  for (const field of fields) {
    Object.defineProperty(target, field, {
      enumerable: true,
      get: () => {
        if (!slot.committed) throw new CheckpointPendingError(field);
        return slot.committed[field];
      },
    });
  }
  return target;
}
