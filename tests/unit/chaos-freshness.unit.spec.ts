import { describe, expect, it } from 'vitest';
import { recoveryOf, stalenessOf, type Sample } from '../../bench/chaos/freshness.ts';

const series = (...points: [number, number | undefined][]): Sample[] =>
  points.map(([at, count]) => ({ at, count }));

describe('chaos freshness', () => {
  it('a read showing everything the store held is not stale', () => {
    const store = series([0, 1], [250, 2], [500, 3]);
    expect(stalenessOf(store, { at: 500, count: 3 })).toBe(0);
  });

  it('staleness is the age of the oldest write the read side does not show', () => {
    const store = series([0, 1], [250, 2], [500, 3], [750, 4]);
    expect(stalenessOf(store, { at: 750, count: 1 })).toBe(500);
  });

  it('store samples taken after the read do not count', () => {
    const store = series([0, 1], [1000, 5]);
    expect(stalenessOf(store, { at: 500, count: 1 })).toBe(0);
  });

  it('a read side that does not answer is stale', () => {
    expect(stalenessOf(series([0, 1]), { at: 10, count: undefined })).toBe(Infinity);
  });

  it('given a stall, then fresh again: seconds from the lift to the first fresh read after the last stale one', () => {
    const store = series([0, 1], [1000, 2], [2000, 3], [3000, 4], [4000, 5], [5000, 6]);
    const reads = series([0, 1], [1000, 2], [2000, 2], [3000, 2], [4000, 5], [5000, 6]);
    // At 3000 it shows 2 while the store has held 3 since 2000: 1000 ms stale, over 900.
    const r = recoveryOf(store, reads, 2500, 900);
    expect(r).toEqual({ freshAfterSeconds: 1.5, maxStalenessSeconds: 1, stillStale: false });
  });

  it('a read side that never went stale recovered at once', () => {
    const store = series([0, 1], [1000, 2]);
    const reads = series([0, 1], [1000, 2]);
    expect(recoveryOf(store, reads, 500).freshAfterSeconds).toBe(0);
  });

  it('a read side still stale at the end has not recovered', () => {
    const store = series([0, 1], [1000, 2], [3000, 3]);
    const reads = series([0, 1], [3000, undefined]);
    expect(recoveryOf(store, reads, 500)).toEqual({
      freshAfterSeconds: undefined,
      maxStalenessSeconds: Infinity,
      stillStale: true,
    });
  });
});
