/**
 * The EventStoreDB adapter without a server: its pure mappings, and its logic (append read-back,
 * `$all` paging past the server's records, the buffered transaction) over a fake client. The
 * server's own behaviour is the contract suite's (tests/int/event-store-contract.int.spec.ts).
 */
import { randomUUID } from 'node:crypto';
import { StreamNotFoundError, WrongExpectedVersionError } from '@eventstore/db-client';
import { beforeEach, describe, expect, it } from 'vitest';
import { compareCheckpoints, isCheckpoint } from '../../platform/event-store/checkpoint.ts';
import { EsdbEventStore } from '../../platform/event-store/esdb-event-store.ts';
import {
  decodeEsdbCheckpoint,
  encodeEsdbCheckpoint,
  fromAppendError,
  isSystemEvent,
  toEsdbExpectedRevision,
} from '../../platform/event-store/esdb-mapping.ts';
import { CheckpointPendingError } from '../../platform/event-store/esdb-transaction.ts';
import {
  type EventToAppend,
  InvalidCheckpointError,
  WrongExpectedRevisionError,
} from '../../platform/event-store/event-store.ts';
import { FakeEsdbClient } from '../support/fake-esdb-client.ts';

const anEvent = (n = 0): EventToAppend => ({ type: 'Something', data: { n } });

describe('EventStoreDB mapping', () => {
  it('maps every expected revision of the port onto the client one to one', () => {
    expect(toEsdbExpectedRevision('any')).toBe('any');
    expect(toEsdbExpectedRevision('no_stream')).toBe('no_stream');
    expect(toEsdbExpectedRevision('stream_exists')).toBe('stream_exists');
    expect(toEsdbExpectedRevision(7n)).toBe(7n);
    expect(toEsdbExpectedRevision(0)).toBe(0n);
    expect(() => toEsdbExpectedRevision(-1)).toThrow(RangeError);
    expect(() => toEsdbExpectedRevision(-1n)).toThrow(RangeError);
    expect(() => toEsdbExpectedRevision(1.5)).toThrow(RangeError);
  });

  it("turns WrongExpectedVersionError into WrongExpectedRevisionError with the server's actual revision", () => {
    const moved = new WrongExpectedVersionError(undefined, { streamName: 's', expected: 3n, current: 5n });
    const mapped = fromAppendError(moved, 's', 3);
    expect(mapped).toBeInstanceOf(WrongExpectedRevisionError);
    expect(mapped).toMatchObject({ streamId: 's', expected: 3, actual: 5n });

    const missing = new WrongExpectedVersionError(undefined, {
      streamName: 's',
      expected: 'stream_exists',
      current: 'no_stream',
    });
    expect(fromAppendError(missing, 's', 'stream_exists')).toMatchObject({ actual: 'no_stream' });
  });

  it('leaves every other error as it is', () => {
    const deleted = new StreamNotFoundError(undefined, 's');
    expect(fromAppendError(deleted, 's', 'any')).toBe(deleted);
    const other = new Error('unavailable');
    expect(fromAppendError(other, 's', 'any')).toBe(other);
  });

  it('encodes a $all position as the <commit>:<prepare> pair checkpoint.ts orders', () => {
    const position = { commit: 18446744073709551615n, prepare: 42n };
    const checkpoint = encodeEsdbCheckpoint(position);
    expect(checkpoint).toBe('18446744073709551615:42');
    expect(isCheckpoint(checkpoint)).toBe(true);
    expect(decodeEsdbCheckpoint(checkpoint)).toEqual(position);
    expect(() => decodeEsdbCheckpoint('not-a-position')).toThrow(InvalidCheckpointError);

    const at = (commit: bigint, prepare: bigint) => encodeEsdbCheckpoint({ commit, prepare });
    expect(compareCheckpoints(at(100n, 90n), at(100n, 95n))).toBe(-1);
    expect(compareCheckpoints(at(101n, 0n), at(100n, 95n))).toBe(1);
    expect(compareCheckpoints(at(9n, 9n), at(10n, 1n))).toBe(-1); // numerically, not as text
    expect(compareCheckpoints(at(7n, 7n), at(7n, 7n))).toBe(0);
  });

  it("tells the server's own records from the platform's events", () => {
    expect(isSystemEvent('$metadata', '$$schedule-1')).toBe(true);
    expect(isSystemEvent('$>', '$ce-schedule')).toBe(true);
    expect(isSystemEvent('$statistics-collected', '$stats-node')).toBe(true);
    expect(isSystemEvent('AppointmentBooked', 'schedule-1')).toBe(false);
  });
});

describe('EsdbEventStore over a fake client', () => {
  let fake: FakeEsdbClient;
  let store: EsdbEventStore;
  beforeEach(() => {
    fake = new FakeEsdbClient();
    store = new EsdbEventStore(fake.client);
  });

  it('appends, reads back every event with its checkpoint, and reads a missing stream as empty', async () => {
    const result = await store.appendToStream('s', [anEvent(1), anEvent(2)], 'no_stream');
    expect(result.nextExpectedRevision).toBe(1n);
    expect(result.events.map((e) => e.revision)).toEqual([0n, 1n]);
    expect(result.checkpoint).toBe(result.events[1]!.checkpoint);
    expect(compareCheckpoints(result.events[0]!.checkpoint, result.checkpoint)).toBe(-1);
    expect(await store.readStream('s')).toEqual(result.events);
    expect(await store.readStream('missing')).toEqual([]);
  });

  it('maps a conflict, and answers a retried append (same ids, same expected revision) with the original', async () => {
    await store.appendToStream('s', [anEvent()], 'no_stream');
    const err = await store.appendToStream('s', [anEvent()], 'no_stream').catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'WrongExpectedRevisionError', actual: 0n });

    const events = [
      { ...anEvent(1), id: randomUUID() },
      { ...anEvent(2), id: randomUUID() },
    ];
    const first = await store.appendToStream('s', events, 0n);
    const retry = await store.appendToStream('s', events, 0n);
    expect(retry).toEqual(first);
    expect(await store.readStream('s')).toHaveLength(3);

    const created = [{ ...anEvent(3), id: randomUUID() }];
    const opened = await store.appendToStream('t', created, 'no_stream');
    await store.appendToStream('t', [anEvent(4)], 0n); // the stream moves on before the retry
    expect(await store.appendToStream('t', created, 'no_stream')).toEqual(opened);
  });

  it("pages $all past the server's records, resuming after (not at) the checkpoint", async () => {
    fake.systemRecord();
    await store.appendToStream('a', [anEvent(0), anEvent(1)], 'no_stream');
    for (let i = 0; i < 5; i++) fake.systemRecord('$>', '$ce-a');
    await store.appendToStream('b', [anEvent(2)], 'no_stream');
    fake.systemRecord();

    const seen: number[] = [];
    let checkpoint: string | undefined;
    for (let i = 0; i < 10; i++) {
      const page = await store.readAll(checkpoint, 2);
      expect(page.events.length).toBeLessThanOrEqual(2);
      seen.push(...page.events.map((e) => (e.data as { n: number }).n));
      if (page.events.length === 0) {
        expect(page.checkpoint).toBe(checkpoint); // nothing new: the checkpoint it was given
        break;
      }
      expect(page.checkpoint).toBe(page.events.at(-1)!.checkpoint);
      checkpoint = page.checkpoint;
    }
    expect(seen).toEqual([0, 1, 2]);
  });

  it('fills a page with the platform events after a run of server records longer than the page', async () => {
    await store.appendToStream('a', [anEvent(0)], 'no_stream');
    for (let i = 0; i < 7; i++) fake.systemRecord();
    await store.appendToStream('a', [anEvent(1)], 0n);
    const page = await store.readAll(undefined, 2);
    expect(page.events.map((e) => e.data)).toEqual([{ n: 0 }, { n: 1 }]);
    expect(fake.allReads).toBeGreaterThan(1);
  });

  it("answers the last platform event's checkpoint as the head, past a run of server records", async () => {
    expect(await store.head()).toBeUndefined();
    fake.systemRecord();
    expect(await store.head()).toBeUndefined(); // only the server's records: no event of ours yet
    await store.appendToStream('a', [anEvent(0)], 'no_stream');
    const { checkpoint } = await store.appendToStream('a', [anEvent(1)], 0n);
    for (let i = 0; i < 40; i++) fake.systemRecord(); // more than one backwards page
    fake.allReads = 0;
    expect(await store.head()).toBe(checkpoint);
    expect(fake.allReads).toBeGreaterThan(1);
  });

  describe('transaction', () => {
    it('sends nothing until the work resolves, then one append; results settle at commit', async () => {
      const kept = await store.transaction(async (tx) => {
        const first = await tx.appendToStream('s', [anEvent(1)], 'no_stream');
        const second = await tx.appendToStream('s', [anEvent(2)], first.nextExpectedRevision);
        expect(second.nextExpectedRevision).toBe(1n);
        expect((await tx.readStream('s')).map((e) => [e.revision, e.data])).toEqual([
          [0n, { n: 1 }],
          [1n, { n: 2 }],
        ]);
        expect(fake.log).toEqual([]); // not sent yet
        expect(() => second.checkpoint).toThrow(CheckpointPendingError);
        return second;
      });
      expect(fake.log.map((e) => e.revision)).toEqual([0n, 1n]);
      const stored = await store.readStream('s');
      expect(kept.checkpoint).toBe(stored[1]!.checkpoint);
      expect(kept.events[0]!.createdAt).toEqual(stored[1]!.createdAt);
    });

    it('sends nothing when the work throws', async () => {
      await expect(
        store.transaction(async (tx) => {
          await tx.appendToStream('s', [anEvent()], 'no_stream');
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(fake.log).toEqual([]);
    });

    it('checks chained appends at once and the pinned revision at commit', async () => {
      await store.appendToStream('s', [anEvent(0)], 'no_stream');
      await expect(
        store.transaction(async (tx) => {
          await tx.appendToStream('s', [anEvent(1)], 0n);
          await tx.appendToStream('s', [anEvent(2)], 0n); // the buffered append moved it to 1
        }),
      ).rejects.toMatchObject({ name: 'WrongExpectedRevisionError', actual: 1n });

      // `any` is pinned to the revision read when the transaction first appended.
      await expect(
        store.transaction(async (tx) => {
          await tx.appendToStream('s', [anEvent(1)], 'any');
          await store.appendToStream('s', [anEvent(9)], 'any'); // someone else, meanwhile
        }),
      ).rejects.toBeInstanceOf(WrongExpectedRevisionError);
      expect((await store.readStream('s')).map((e) => e.data)).toEqual([{ n: 0 }, { n: 9 }]);

      await expect(
        store.transaction((tx) => tx.appendToStream('missing', [anEvent()], 'stream_exists')),
      ).rejects.toMatchObject({ actual: 'no_stream' });
    });

    it('refuses a second stream, and has no handle for other adapters', async () => {
      await expect(
        store.transaction(async (tx) => {
          expect(tx.handle).toBeUndefined();
          await tx.appendToStream('a', [anEvent()], 'no_stream');
          await tx.appendToStream('b', [anEvent()], 'no_stream');
        }),
      ).rejects.toThrow(/one stream/);
      expect(fake.log).toEqual([]);
    });
  });
});
