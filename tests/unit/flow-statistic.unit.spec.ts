/** The sliding-window statistics of platform/flow (LeapArray and ResourceStat) on a fake clock. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LeapArray } from '../../platform/flow/leap-array.ts';
import { ResourceStat } from '../../platform/flow/statistic.ts';

describe('LeapArray', () => {
  const counter = () =>
    new LeapArray<{ n: number }>(
      2,
      500,
      () => ({ n: 0 }),
      (c) => void (c.n = 0),
    );
  const total = (a: LeapArray<{ n: number }>, now: number) => a.valid(now).reduce((s, b) => s + b.value.n, 0);

  it('given 2 × 500 ms, then a count stays in the window for one to two buckets and its slot is reused', () => {
    const a = counter();
    a.current(100).value.n += 3;
    a.current(600).value.n += 4;
    expect(total(a, 900)).toBe(7);
    expect(total(a, 1_000)).toBe(4); // the bucket [0, 500) left the window
    a.current(1_100).value.n += 1; // same slot as [0, 500): reset before use
    expect(total(a, 1_100)).toBe(5);
    expect(total(a, 5_000)).toBe(0);
  });

  it('property: the window total equals the events of the last two aligned buckets', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 10_000 }), { maxLength: 200 }),
        fc.integer({ min: 0, max: 10_000 }),
        (raw, extra) => {
          const times = [...raw].sort((x, y) => x - y);
          const a = counter();
          for (const t of times) a.current(t).value.n += 1;
          const now = Math.max(extra, times.at(-1) ?? 0);
          const from = now - (now % 500) - 500;
          expect(total(a, now)).toBe(times.filter((t) => t >= from && t <= now).length);
        },
      ),
    );
  });
});

describe('ResourceStat', () => {
  it('counts pass, block, success, error, in-flight and RT over the window', () => {
    const s = new ResourceStat();
    for (let i = 0; i < 10; i++) s.addPass(100);
    s.addBlock(100, 'qps');
    s.addBlock(120, 'qps');
    for (let i = 0; i < 8; i++) s.complete(200, i < 4 ? 3 : 40, false);
    s.complete(200, 700, true);
    const snap = s.snapshot(400);
    expect(snap).toMatchObject({
      passQps: 10,
      blockQps: 2,
      successQps: 8,
      errorQps: 1,
      inFlight: 1,
      minRtMs: 3,
    });
    expect(snap.p50RtMs).toBe(50); // 40 ms falls in the (25, 50] bucket
    expect(snap.p99RtMs).toBe(1000);
    expect(snap.avgRtMs).toBeCloseTo((4 * 3 + 4 * 40 + 700) / 9);
    expect(s.totals.block.get('qps')).toBe(2);
    expect(s.snapshot(2_000)).toMatchObject({ passQps: 0, inFlight: 1, p99RtMs: 0 });
  });

  it('reports the best per-second completion rate of one bucket, and the pass count of the previous whole second', () => {
    const s = new ResourceStat();
    for (let i = 0; i < 30; i++) s.addPass(1_100);
    for (let i = 0; i < 30; i++) s.complete(1_200, 1, false);
    for (let i = 0; i < 5; i++) s.complete(1_700, 1, false);
    expect(s.maxSuccessQps(1_800)).toBe(60); // 30 in a 500 ms bucket
    expect(s.previousSecondPass(1_800)).toBe(0);
    expect(s.previousSecondPass(2_300)).toBe(30);
    expect(s.previousSecondPass(3_300)).toBe(0);
  });
});
