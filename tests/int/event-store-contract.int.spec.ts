/**
 * The event store port's contract (platform/event-store/event-store.ts), run against every store:
 * PostgreSQL always, EventStoreDB/KurrentDB when EVENTSTORE_URL is set (README: "Event store").
 * What only one store promises is asked of the stores that promise it (`promises`); PostgreSQL's
 * own properties — the order under concurrent late commits, writes of other adapters in the same
 * database transaction — stay in event-store.int.spec.ts.
 */
import { randomUUID } from 'node:crypto';
import { EventStoreDBClient } from '@eventstore/db-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCheckpoint } from '../../platform/event-store/checkpoint.ts';
import { EsdbEventStore } from '../../platform/event-store/esdb-event-store.ts';
import {
  type Checkpoint,
  type EventStore,
  type EventToAppend,
  InvalidCheckpointError,
  type RecordedEvent,
  WrongExpectedRevisionError,
} from '../../platform/event-store/event-store.ts';
import { PgEventStore } from '../../platform/event-store/pg-event-store.ts';
import { FakeEsdbClient } from '../support/fake-esdb-client.ts';
import { migrateTestDatabase, randomStreamId, sleep, testPool } from '../support/db.ts';
import { testConfig } from '../support/test-config.ts';
import { uniqueName } from '../support/wait.ts';

interface StoreUnderTest {
  name: string;
  open: () => Promise<{ store: EventStore<unknown>; close: () => Promise<void> }>;
  promises: {
    /** A retried append (same ids, same expected revision) answers the first result instead of a conflict. */
    deduplicatedRetry: boolean;
    /** One transaction may append to several streams, all or nothing. */
    transactionAcrossStreams: boolean;
  };
}

const postgres: StoreUnderTest = {
  name: 'postgres',
  open: async () => {
    await migrateTestDatabase();
    const pool = testPool(16);
    return { store: new PgEventStore(pool), close: () => pool.end() };
  },
  promises: { deduplicatedRetry: false, transactionAcrossStreams: true },
};

const eventstoredb = (url: string): StoreUnderTest => ({
  name: 'eventstoredb',
  open: () => {
    const client = EventStoreDBClient.connectionString(url);
    return Promise.resolve({ store: new EsdbEventStore(client), close: () => client.dispose() });
  },
  promises: { deduplicatedRetry: true, transactionAcrossStreams: false },
});

/**
 * The EventStoreDB adapter over the in-memory fake of its client (tests/support/fake-esdb-client.ts):
 * not a server — it checks that the adapter's own logic keeps the contract, given the server
 * behaviour the fake models. Runs always; the real server only when EVENTSTORE_URL is set.
 */
const eventstoredbAdapterOnFake: StoreUnderTest = {
  name: 'eventstoredb adapter, fake client',
  open: () =>
    Promise.resolve({ store: new EsdbEventStore(new FakeEsdbClient().client), close: async () => {} }),
  promises: { deduplicatedRetry: true, transactionAcrossStreams: false },
};

const esdbUrl = testConfig().EVENTSTORE_URL;
if (!esdbUrl) console.log('[event-store-contract] SKIP eventstoredb: EVENTSTORE_URL is not set');
const stores = [postgres, ...(esdbUrl ? [eventstoredb(esdbUrl)] : []), eventstoredbAdapterOnFake];

/** A stream of this run (the tag lets a shared EventStoreDB tell test streams from others). */
const aStream = (): string => randomStreamId(uniqueName('contract'));
const anEvent = (n = 0, type = 'Something'): EventToAppend => ({ type, data: { n } });
const numbers = (events: readonly RecordedEvent[]) => events.map((e) => (e.data as { n: number }).n);

describe.each(stores)('event store contract: $name', ({ open, promises }) => {
  let store: EventStore<unknown>;
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ store, close } = await open());
  });
  afterAll(() => close());

  /** A checkpoint before anything the test appends next (the store's own, never a guess). */
  async function mark(): Promise<Checkpoint> {
    return (await store.appendToStream(aStream(), [anEvent(-1, 'Marker')], 'no_stream')).checkpoint;
  }

  /** The events of `streams` readAll returns after `from`, paging by `batch` until `count` are seen. */
  async function readAllOf(from: Checkpoint, streams: string[], count: number, batch = 1000) {
    const seen: RecordedEvent[] = [];
    let checkpoint: Checkpoint | undefined = from;
    for (let i = 0; i < 300 && seen.length < count; i++) {
      const page = await store.readAll(checkpoint, batch);
      expect(page.events.length).toBeLessThanOrEqual(batch);
      seen.push(...page.events.filter((e) => streams.includes(e.streamId)));
      checkpoint = page.checkpoint;
      if (page.events.length === 0) await sleep(20);
    }
    return { seen, checkpoint };
  }

  describe('appendToStream / readStream', () => {
    it('appends to a new stream and reads it back in revision order with metadata', async () => {
      const stream = aStream();
      const id = randomUUID();
      const metadata = {
        correlationId: 'corr-1',
        causationId: 'cause-1',
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
        idempotencyKey: 'key-1',
        actor: { id: 'p1', role: 'patient' },
      };
      const result = await store.appendToStream(
        stream,
        [{ id, type: 'A', data: { x: 1 }, metadata }, anEvent(2, 'B'), anEvent(3, 'C')],
        'no_stream',
      );
      expect(result.nextExpectedRevision).toBe(2n);
      expect(result.events.map((e) => e.revision)).toEqual([0n, 1n, 2n]);
      expect(result.checkpoint).toBe(result.events[2]!.checkpoint);

      const read = await store.readStream(stream);
      expect(read.map((e) => [e.type, e.revision])).toEqual([
        ['A', 0n],
        ['B', 1n],
        ['C', 2n],
      ]);
      expect(read).toEqual(result.events);
      expect(read[0]).toMatchObject({ id, streamId: stream, data: { x: 1 }, metadata });
      expect(read[0]!.createdAt).toBeInstanceOf(Date);
      expect(store.compareCheckpoints(read[0]!.checkpoint, read[1]!.checkpoint)).toBeLessThan(0);
      expect(await store.readStream(stream, { fromRevision: 1n, maxCount: 1 })).toEqual([read[1]]);
      expect(await store.readStream(aStream())).toEqual([]);
    });

    it('rejects no_stream on an existing stream, reporting the actual revision', async () => {
      const stream = aStream();
      await store.appendToStream(stream, [anEvent()], 'no_stream');
      const error = await store.appendToStream(stream, [anEvent()], 'no_stream').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WrongExpectedRevisionError);
      expect(error).toMatchObject({ streamId: stream, expected: 'no_stream', actual: 0n });
    });

    it('checks an exact expected revision', async () => {
      const stream = aStream();
      await store.appendToStream(stream, [anEvent(), anEvent()], 'no_stream');
      const behind = await store.appendToStream(stream, [anEvent()], 0).catch((e: unknown) => e);
      expect(behind).toBeInstanceOf(WrongExpectedRevisionError);
      expect(behind).toMatchObject({ expected: 0n, actual: 1n }); // numbers come back as bigints
      await expect(store.appendToStream(stream, [anEvent()], 5n)).rejects.toBeInstanceOf(
        WrongExpectedRevisionError,
      );
      expect((await store.appendToStream(stream, [anEvent()], 1n)).nextExpectedRevision).toBe(2n);
      const missing = await store.appendToStream(aStream(), [anEvent()], 0).catch((e: unknown) => e);
      expect(missing).toBeInstanceOf(WrongExpectedRevisionError);
      expect((missing as WrongExpectedRevisionError).actual).toBe('no_stream');
    });

    it("supports 'any' and 'stream_exists'", async () => {
      const stream = aStream();
      const missing = await store
        .appendToStream(stream, [anEvent()], 'stream_exists')
        .catch((e: unknown) => e);
      expect(missing).toBeInstanceOf(WrongExpectedRevisionError);
      expect((missing as WrongExpectedRevisionError).actual).toBe('no_stream');
      expect((await store.appendToStream(stream, [anEvent()], 'any')).nextExpectedRevision).toBe(0n);
      expect((await store.appendToStream(stream, [anEvent()], 'any')).nextExpectedRevision).toBe(1n);
      expect((await store.appendToStream(stream, [anEvent()], 'stream_exists')).nextExpectedRevision).toBe(
        2n,
      );
    });

    it('lets exactly one of many concurrent writers with the same expected revision win', async () => {
      const stream = aStream();
      await store.appendToStream(stream, [anEvent()], 'no_stream');
      const results = await Promise.allSettled(
        Array.from({ length: 12 }, (_, i) => store.appendToStream(stream, [anEvent(i)], 0n)),
      );
      const lost = results.filter((r) => r.status === 'rejected');
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(lost).toHaveLength(11);
      for (const r of lost) expect(r.reason).toBeInstanceOf(WrongExpectedRevisionError);
      expect(await store.readStream(stream)).toHaveLength(2);
    });

    it('keeps per-stream order gapless, and each append together, under concurrent appends', async () => {
      const stream = aStream();
      await Promise.all(
        Array.from({ length: 20 }, (_, i) => store.appendToStream(stream, [anEvent(i), anEvent(i)], 'any')),
      );
      const events = await store.readStream(stream);
      expect(events.map((e) => e.revision)).toEqual(Array.from({ length: 40 }, (_, i) => BigInt(i)));
      for (let i = 0; i < 40; i += 2) expect(events[i]!.data).toEqual(events[i + 1]!.data);
    });

    it('never writes a retried append twice (same event ids, same expected revision)', async () => {
      const stream = aStream();
      await store.appendToStream(stream, [anEvent(0)], 'no_stream');
      const events = [1, 2].map((n) => ({ ...anEvent(n), id: randomUUID() }));
      const first = await store.appendToStream(stream, events, 0n);
      // The reply was lost; the caller retries the very same append.
      const retry = await store.appendToStream(stream, events, 0n).catch((e: unknown) => e);
      if (promises.deduplicatedRetry) {
        expect(retry).toEqual(first); // the server recognised its own write
      } else {
        expect(retry).toBeInstanceOf(WrongExpectedRevisionError); // the revision moved on
      }
      expect(numbers(await store.readStream(stream))).toEqual([0, 1, 2]);
    });
  });

  describe('readAll and checkpoints', () => {
    it('pages through the global order from a checkpoint, resuming after it', async () => {
      const from = await mark();
      const stream = aStream();
      await store.appendToStream(
        stream,
        Array.from({ length: 5 }, (_, i) => anEvent(i)),
        'no_stream',
      );
      const { seen, checkpoint } = await readAllOf(from, [stream], 5, 2);
      expect(numbers(seen)).toEqual([0, 1, 2, 3, 4]);
      for (let i = 1; i < seen.length; i++) {
        expect(store.compareCheckpoints(seen[i]!.checkpoint, seen[i - 1]!.checkpoint)).toBeGreaterThan(0);
      }
      const rest = await store.readAll(checkpoint, 100);
      expect(rest.events.filter((e) => e.streamId === stream)).toEqual([]);
    });

    it('places every event in readAll where its append and its stream say (read-your-writes)', async () => {
      const from = await mark();
      const stream = aStream();
      const appended = await store.appendToStream(stream, [anEvent(1), anEvent(2)], 'no_stream');
      const { seen } = await readAllOf(from, [stream], 2);
      expect(seen.map((e) => e.checkpoint)).toEqual(appended.events.map((e) => e.checkpoint));
      expect(seen).toEqual(await store.readStream(stream));
    });

    it('orders appends across streams as they were committed one after the other', async () => {
      const from = await mark();
      const [a, b] = [aStream(), aStream()];
      await store.appendToStream(a, [anEvent(1)], 'no_stream');
      await store.appendToStream(b, [anEvent(2)], 'no_stream');
      await store.appendToStream(a, [anEvent(3)], 0n);
      const { seen } = await readAllOf(from, [a, b], 3);
      expect(numbers(seen)).toEqual([1, 2, 3]);
    });

    it('returns the checkpoint it was given when there is nothing new', async () => {
      const stream = aStream();
      const { checkpoint } = await store.appendToStream(stream, [anEvent()], 'no_stream');
      // Other tests may append meanwhile: page forward until a read finds nothing new.
      let from: Checkpoint = checkpoint;
      let page = await store.readAll(from, 1000);
      for (let i = 0; i < 50 && page.events.length > 0; i++) {
        expect(page.events.map((e) => e.streamId)).not.toContain(stream);
        expect(page.checkpoint).toBe(page.events.at(-1)!.checkpoint);
        expect(store.compareCheckpoints(page.checkpoint!, from)).toBeGreaterThan(0);
        from = page.checkpoint!;
        page = await store.readAll(from, 1000);
      }
      expect(page.events).toEqual([]);
      expect(page.checkpoint).toBe(from);
    });

    it('reports as its head a checkpoint at or after every committed append', async () => {
      const first = await mark();
      const { checkpoint } = await store.appendToStream(aStream(), [anEvent(1)], 'no_stream');
      const head = await store.head();
      expect(isCheckpoint(head ?? '')).toBe(true);
      // Other tests may append meanwhile, so at or after, not equal.
      expect(store.compareCheckpoints(head!, checkpoint)).toBeGreaterThanOrEqual(0);
      expect(store.compareCheckpoints(head!, first)).toBeGreaterThan(0);
    });

    it('names the stream of the event at a checkpoint an append returned', async () => {
      const [one, two] = [aStream(), aStream()];
      const first = await store.appendToStream(one, [anEvent(1), anEvent(2)], 'no_stream');
      const second = await store.appendToStream(two, [anEvent(1)], 'no_stream');
      expect(await store.streamAt(first.events[1]!.checkpoint)).toBe(one);
      expect(await store.streamAt(second.checkpoint)).toBe(two);
    });

    it('compares checkpoints as the global order, and refuses garbage', async () => {
      const { events } = await store.appendToStream(aStream(), [anEvent(1), anEvent(2)], 'no_stream');
      const [a, b] = events.map((e) => e.checkpoint) as [Checkpoint, Checkpoint];
      expect(store.compareCheckpoints(a, b)).toBeLessThan(0);
      expect(store.compareCheckpoints(b, a)).toBeGreaterThan(0);
      expect(store.compareCheckpoints(a, a)).toBe(0);
      expect(() => store.compareCheckpoints('garbage', a)).toThrow(InvalidCheckpointError);
      await expect(store.readAll('garbage', 1)).rejects.toBeInstanceOf(InvalidCheckpointError);
    });
  });

  describe("transaction (the port's unit of work)", () => {
    it('reads its own appends, shows nothing outside before commit, then commits them', async () => {
      const stream = aStream();
      const kept = await store.transaction(async (tx) => {
        const { nextExpectedRevision } = await tx.appendToStream(stream, [anEvent(1)], 'no_stream');
        const second = await tx.appendToStream(stream, [anEvent(2)], nextExpectedRevision);
        expect(numbers(await tx.readStream(stream))).toEqual([1, 2]);
        expect(await store.readStream(stream)).toEqual([]);
        return second;
      });
      const stored = await store.readStream(stream);
      expect(numbers(stored)).toEqual([1, 2]);
      // The append's result, read after the commit, names the stored event's place in the order.
      expect(kept.nextExpectedRevision).toBe(1n);
      expect(kept.checkpoint).toBe(stored[1]!.checkpoint);
    });

    it('writes nothing when the work throws', async () => {
      const stream = aStream();
      await expect(
        store.transaction(async (tx) => {
          await tx.appendToStream(stream, [anEvent(1)], 'no_stream');
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(await store.readStream(stream)).toEqual([]);
    });

    it('fails with WrongExpectedRevisionError and writes nothing when its revision check fails', async () => {
      const stream = aStream();
      await store.appendToStream(stream, [anEvent(0)], 'no_stream');
      await expect(
        store.transaction(async (tx) => {
          await tx.appendToStream(stream, [anEvent(1)], 'no_stream'); // the stream exists
        }),
      ).rejects.toBeInstanceOf(WrongExpectedRevisionError);
      expect(numbers(await store.readStream(stream))).toEqual([0]);
    });

    it('appends to several streams all or nothing, or refuses the second stream', async () => {
      const [a, b] = [aStream(), aStream()];
      await store.appendToStream(b, [anEvent(0)], 'no_stream');
      const attempt = store.transaction(async (tx) => {
        await tx.appendToStream(a, [anEvent(1)], 'no_stream');
        await tx.appendToStream(b, [anEvent(1)], 'no_stream'); // conflict, or a second stream
      });
      if (promises.transactionAcrossStreams) {
        await expect(attempt).rejects.toBeInstanceOf(WrongExpectedRevisionError);
      } else {
        await expect(attempt).rejects.toThrow(/one stream/);
      }
      expect(await store.readStream(a)).toEqual([]);
      expect(numbers(await store.readStream(b))).toEqual([0]);
    });
  });
});
