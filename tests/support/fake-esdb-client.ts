/**
 * An in-memory stand-in for the three EventStoreDB client calls the adapter makes, modelling the
 * server behaviour the adapter relies on: the revision check (WrongExpectedVersionError with the
 * current revision), deduplication of a retried append (same ids, same expected revision),
 * StreamNotFoundError from reading a missing stream, `$all` read from a position *inclusive* (either
 * way), and the server's own `$`-records interleaved in `$all`. It tests the adapter's logic, not the server:
 * the contract suite (tests/int/event-store-contract.int.spec.ts) does that when EVENTSTORE_URL is set.
 */
import {
  type AppendExpectedRevision,
  type EventData,
  type Position,
  StreamNotFoundError,
  WrongExpectedVersionError,
} from '@eventstore/db-client';
import type { EsdbClient } from '../../platform/event-store/esdb-event-store.ts';

interface Stored {
  streamId: string;
  id: string;
  revision: bigint;
  type: string;
  data: unknown;
  metadata: unknown;
  created: Date;
  isJson: true;
  position: Position;
  /** The expected revision of the append that wrote it (for deduplication). */
  expected: AppendExpectedRevision;
}

export class FakeEsdbClient {
  readonly log: Stored[] = [];
  /** How many `$all` reads the adapter made (paging). */
  allReads = 0;
  #prepare = 100n;

  readonly client = {
    appendToStream: (
      streamId: string,
      events: EventData | EventData[],
      opts?: { expectedRevision?: AppendExpectedRevision },
    ) => Promise.resolve(this.#append(streamId, [events].flat(), opts?.expectedRevision ?? 'any')),
    readStream: (
      streamId: string,
      opts: { fromRevision?: bigint | 'start' | 'end'; maxCount?: number; direction?: string } = {},
    ) => this.#readStream(streamId, opts),
    readAll: (opts: { fromPosition?: Position | 'start' | 'end'; maxCount?: number; direction?: string }) =>
      this.#readAll(opts),
  } as unknown as EsdbClient;

  /** A record of the server itself (statistics, stream metadata, a link), between ours in `$all`. */
  systemRecord(type = '$statistics-collected', streamId = '$stats-127.0.0.1:2113'): void {
    this.#write(
      streamId,
      { id: crypto.randomUUID(), type, data: {}, metadata: undefined } as EventData,
      0n,
      'any',
    );
  }

  #stream = (streamId: string) => this.log.filter((e) => e.streamId === streamId);

  #append(streamId: string, events: EventData[], expected: AppendExpectedRevision) {
    const stream = this.#stream(streamId);
    const current = stream.at(-1)?.revision ?? 'no_stream';
    const retried = this.#retried(stream, events, expected);
    if (retried) return { success: true, nextExpectedRevision: retried.revision, position: retried.position };
    const ok =
      expected === 'any' || (expected === 'stream_exists' && current !== 'no_stream') || expected === current;
    if (!ok) throw new WrongExpectedVersionError(undefined, { streamName: streamId, expected, current });
    const first = current === 'no_stream' ? 0n : current + 1n;
    const written = events.map((e, i) => this.#write(streamId, e, first + BigInt(i), expected));
    const last = written.at(-1)!;
    return { success: true, nextExpectedRevision: last.revision, position: last.position };
  }

  /** The same ids, written by an append with the same expected revision: the original's last event. */
  #retried(stream: Stored[], events: EventData[], expected: AppendExpectedRevision): Stored | undefined {
    const start = stream.findIndex((e) => e.id === events[0]!.id);
    if (start < 0) return undefined;
    const original = stream.slice(start, start + events.length);
    const same = original.length === events.length && original.every((e, i) => e.id === events[i]!.id);
    return same && original[0]!.expected === expected ? original.at(-1) : undefined;
  }

  #write(streamId: string, e: EventData, revision: bigint, expected: AppendExpectedRevision): Stored {
    this.#prepare += 37n; // positions are sparse byte offsets
    const stored: Stored = {
      streamId,
      id: e.id,
      revision,
      type: e.type,
      data: e.data,
      metadata: e.metadata,
      created: new Date(),
      isJson: true,
      position: { commit: this.#prepare, prepare: this.#prepare },
      expected,
    };
    this.log.push(stored);
    return stored;
  }

  async *#readStream(
    streamId: string,
    opts: { fromRevision?: bigint | 'start' | 'end'; maxCount?: number; direction?: string },
  ) {
    const stream = this.#stream(streamId);
    if (stream.length === 0) throw new StreamNotFoundError(undefined, streamId);
    const ordered = opts.direction === 'backwards' ? [...stream].reverse() : stream;
    const from = typeof opts.fromRevision === 'bigint' ? opts.fromRevision : undefined;
    const picked = ordered.filter((e) => from === undefined || e.revision >= from);
    for (const event of picked.slice(0, opts.maxCount ?? Infinity)) yield Promise.resolve({ event });
  }

  async *#readAll(opts: {
    fromPosition?: Position | 'start' | 'end';
    maxCount?: number;
    direction?: string;
  }) {
    this.allReads++;
    const from = opts.fromPosition;
    const backwards = opts.direction === 'backwards';
    const within = (e: Stored) =>
      from === undefined ||
      typeof from === 'string' ||
      (backwards ? e.position.commit <= from.commit : e.position.commit >= from.commit);
    const picked = (backwards ? [...this.log].reverse() : this.log).filter(within);
    for (const event of picked.slice(0, opts.maxCount ?? Infinity)) yield Promise.resolve({ event });
  }
}
