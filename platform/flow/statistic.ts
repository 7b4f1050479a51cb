/**
 * Live statistics of one resource (Sentinel's StatisticNode, trimmed): pass, block, success,
 * error and RT on a sliding window of `sampleCount` buckets (default 2 × 500 ms: the window QPS
 * rules judge by), the pass count of whole seconds (for the warm-up rule, 2 × 1000 ms), the requests
 * in flight, and a small RT histogram per bucket for percentiles. Totals since start feed /metrics.
 */
import { LeapArray } from './leap-array.ts';

/** Upper bounds (ms) of the RT histogram's buckets; the last bucket is everything above. */
export const RT_BOUNDS_MS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000] as const;

interface Counts {
  pass: number;
  block: number;
  success: number;
  error: number;
  rtSum: number;
  minRt: number;
  rt: number[];
}

const freshCounts = (): Counts => ({
  pass: 0,
  block: 0,
  success: 0,
  error: 0,
  rtSum: 0,
  minRt: Number.POSITIVE_INFINITY,
  rt: new Array<number>(RT_BOUNDS_MS.length + 1).fill(0),
});

const resetCounts = (c: Counts): void => {
  c.pass = 0;
  c.block = 0;
  c.success = 0;
  c.error = 0;
  c.rtSum = 0;
  c.minRt = Number.POSITIVE_INFINITY;
  c.rt.fill(0);
};

export interface WindowOptions {
  sampleCount: number;
  intervalMs: number;
}

export const DEFAULT_WINDOW: WindowOptions = { sampleCount: 2, intervalMs: 1000 };

/** A resource's figures over its current window, as the admin view and the tests read them. */
export interface StatSnapshot {
  passQps: number;
  blockQps: number;
  successQps: number;
  errorQps: number;
  inFlight: number;
  avgRtMs: number;
  minRtMs: number;
  p50RtMs: number;
  p99RtMs: number;
}

export class ResourceStat {
  readonly window: LeapArray<Counts>;
  private readonly seconds = new LeapArray<{ pass: number }>(
    2,
    1000,
    () => ({ pass: 0 }),
    (c) => {
      c.pass = 0;
    },
  );
  inFlight = 0;
  /** Since start, for counters on /metrics. */
  readonly totals = { pass: 0, fastPass: 0, success: 0, error: 0, block: new Map<string, number>() };

  constructor(opts: WindowOptions = DEFAULT_WINDOW) {
    this.window = new LeapArray(
      opts.sampleCount,
      opts.intervalMs / opts.sampleCount,
      freshCounts,
      resetCounts,
    );
  }

  /** An admitted request: counted as passed and in flight until `complete`. */
  addPass(now: number, count = 1): void {
    this.window.current(now).value.pass += count;
    this.seconds.current(now).value.pass += count;
    this.totals.pass += count;
    this.inFlight += count;
  }

  /** Takes back a pass counted at `now` (a later cluster-wide refusal): not passed, not in flight. */
  withdraw(now: number): void {
    const bucket = this.window.at(now, 0);
    if (bucket) bucket.value.pass = Math.max(0, bucket.value.pass - 1);
    const second = this.seconds.at(now, 0);
    if (second) second.value.pass = Math.max(0, second.value.pass - 1);
    this.totals.pass = Math.max(0, this.totals.pass - 1);
    this.inFlight = Math.max(0, this.inFlight - 1);
  }

  addBlock(now: number, rule: string): void {
    this.window.current(now).value.block += 1;
    this.totals.block.set(rule, (this.totals.block.get(rule) ?? 0) + 1);
  }

  /** An admitted request finished after `rtMs`; `error` when it failed (a 5xx, a thrown dependency call). */
  complete(now: number, rtMs: number, error: boolean): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
    const c = this.window.current(now).value;
    if (error) {
      c.error += 1;
      this.totals.error += 1;
    } else {
      c.success += 1;
      this.totals.success += 1;
    }
    c.rtSum += rtMs;
    if (rtMs < c.minRt) c.minRt = rtMs;
    c.rt[rtBucket(rtMs)]! += 1;
  }

  private sum(now: number, field: 'pass' | 'block' | 'success' | 'error' | 'rtSum'): number {
    let n = 0;
    for (const b of this.window.valid(now)) n += b.value[field];
    return n;
  }

  /** Passes in the current window, per second. */
  passQps(now: number): number {
    return (this.sum(now, 'pass') * 1000) / this.window.intervalMs;
  }

  /** Passes in the whole second before the current one (Sentinel's previousPassQps). */
  previousSecondPass(now: number): number {
    return this.seconds.at(now, 1000)?.value.pass ?? 0;
  }

  /** The best completed-per-second rate of one bucket in the window (Sentinel's maxSuccessQps). */
  maxSuccessQps(now: number): number {
    let max = 0;
    for (const b of this.window.valid(now)) max = Math.max(max, b.value.success);
    return (max * 1000) / this.window.bucketMs;
  }

  /** The smallest RT of the window (ms); undefined when nothing completed. */
  minRt(now: number): number | undefined {
    let min = Number.POSITIVE_INFINITY;
    for (const b of this.window.valid(now)) min = Math.min(min, b.value.minRt);
    return Number.isFinite(min) ? min : undefined;
  }

  /** The q-quantile of RT over the window: the upper bound of the histogram bucket it falls in (ms). */
  rtPercentile(now: number, q: number): number {
    const hist = new Array<number>(RT_BOUNDS_MS.length + 1).fill(0);
    let total = 0;
    for (const b of this.window.valid(now)) {
      b.value.rt.forEach((n, i) => {
        hist[i]! += n;
        total += n;
      });
    }
    if (total === 0) return 0;
    let seen = 0;
    for (let i = 0; i < hist.length; i++) {
      seen += hist[i]!;
      if (seen >= q * total) return RT_BOUNDS_MS[i] ?? Number.POSITIVE_INFINITY;
    }
    return Number.POSITIVE_INFINITY;
  }

  snapshot(now: number): StatSnapshot {
    const perSec = (n: number) => (n * 1000) / this.window.intervalMs;
    const done = this.sum(now, 'success') + this.sum(now, 'error');
    return {
      passQps: perSec(this.sum(now, 'pass')),
      blockQps: perSec(this.sum(now, 'block')),
      successQps: perSec(this.sum(now, 'success')),
      errorQps: perSec(this.sum(now, 'error')),
      inFlight: this.inFlight,
      avgRtMs: done === 0 ? 0 : this.sum(now, 'rtSum') / done,
      minRtMs: this.minRt(now) ?? 0,
      p50RtMs: this.rtPercentile(now, 0.5),
      p99RtMs: this.rtPercentile(now, 0.99),
    };
  }
}

function rtBucket(rtMs: number): number {
  for (let i = 0; i < RT_BOUNDS_MS.length; i++) if (rtMs <= RT_BOUNDS_MS[i]!) return i;
  return RT_BOUNDS_MS.length;
}
