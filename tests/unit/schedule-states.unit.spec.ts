/**
 * The command side's cache of folded schedules (command-api/schedule-states.ts): a state an
 * append lost with is behind, not wrong — the next load reads only what was appended after it.
 */
import { describe, expect, it } from 'vitest';
import { ScheduleStates } from '../../command-api/schedule-states.ts';
import type { ReadStreamOptions, RecordedEvent } from '../../platform/event-store/event-store.ts';
import { sealingReads } from '../../platform/legacy-patients.ts';
import { unversionedStoredEvents, unversionedStreamId } from '../support/unversioned-events.ts';

const stored = unversionedStoredEvents();
const resolver = { resolve: async (id: string) => ({ patientRef: `ref-${id}`, patient: `sealed-${id}` }) };

/** A stream that has `visible` events so far; remembers where each read started. */
function aStream() {
  const reads: bigint[] = [];
  const stream = {
    visible: 2,
    reads,
    reader: sealingReads(
      {
        readStream: async (_id: string, opts?: ReadStreamOptions): Promise<RecordedEvent[]> => {
          const from = BigInt(opts?.fromRevision ?? 0);
          reads.push(from);
          return stored.slice(Number(from), stream.visible);
        },
      },
      resolver,
    ),
  };
  return stream;
}

describe('ScheduleStates', () => {
  it('given a cached state another writer got ahead of, when marked behind, then nobody decides on it and the next load reads only the rest', async () => {
    expect(stored.length).toBeGreaterThan(2);
    const states = new ScheduleStates();
    const streamId = unversionedStreamId();
    const stream = aStream();
    const first = await states.load(stream.reader, streamId);
    expect(states.cached(streamId)).toBe(first);

    stream.visible = stored.length;
    states.behind(streamId);
    expect(states.cached(streamId)).toBeUndefined();

    const caughtUp = await states.load(stream.reader, streamId);
    expect(stream.reads).toEqual([0n, 2n]);
    expect(caughtUp.revision).toBe(BigInt(stored.length - 1));
    expect(states.cached(streamId)).toBe(caughtUp);
  });

  it('given a state marked behind with nothing appended since, when loaded, then it is current again', async () => {
    const states = new ScheduleStates();
    const streamId = unversionedStreamId();
    const stream = aStream();
    const first = await states.load(stream.reader, streamId);
    states.behind(streamId);
    expect(await states.load(stream.reader, streamId)).toBe(first);
    expect(states.cached(streamId)).toBe(first);
  });

  it('given a forgotten state, when loaded, then the whole stream is read again', async () => {
    const states = new ScheduleStates();
    const streamId = unversionedStreamId();
    const stream = aStream();
    await states.load(stream.reader, streamId);
    states.forget(streamId);
    await states.load(stream.reader, streamId);
    expect(stream.reads).toEqual([0n, 0n]);
  });
});
