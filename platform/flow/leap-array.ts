/**
 * A sliding window of fixed buckets over an injected clock: Sentinel's `LeapArray`
 * (sentinel-core/.../slots/statistic/base/LeapArray.java), single-threaded. `sampleCount` buckets of
 * `bucketMs` each make a window of `sampleCount × bucketMs`; a bucket whose start lies outside the
 * window is reset the next time its slot comes round, so memory is constant and nothing runs on a
 * timer. The clock is a parameter of every call: decisions are deterministic in tests.
 */
export interface Bucket<T> {
  /** Start of the bucket's time slot (ms, a multiple of bucketMs). */
  start: number;
  value: T;
}

export class LeapArray<T> {
  readonly intervalMs: number;
  private readonly buckets: (Bucket<T> | undefined)[];

  constructor(
    readonly sampleCount: number,
    readonly bucketMs: number,
    private readonly fresh: () => T,
    private readonly reset: (value: T) => void,
  ) {
    if (!Number.isInteger(sampleCount) || sampleCount < 1) throw new Error('sampleCount must be ≥ 1');
    if (!(bucketMs > 0)) throw new Error('bucketMs must be > 0');
    this.intervalMs = sampleCount * bucketMs;
    this.buckets = new Array<Bucket<T> | undefined>(sampleCount);
  }

  /** Start of the bucket `now` falls in. */
  bucketStart(now: number): number {
    return now - (now % this.bucketMs);
  }

  /** The bucket `now` falls in, reset first if its slot held an older one. */
  current(now: number): Bucket<T> {
    const start = this.bucketStart(now);
    const idx = Math.floor(now / this.bucketMs) % this.sampleCount;
    const bucket = this.buckets[idx];
    if (bucket === undefined) {
      const created = { start, value: this.fresh() };
      this.buckets[idx] = created;
      return created;
    }
    if (bucket.start !== start) {
      // A slot from a previous round (or, after a clock step back, a future one): start it over.
      bucket.start = start;
      this.reset(bucket.value);
    }
    return bucket;
  }

  /** The buckets inside the window that ends at `now` (the current one included, possibly stale ones not). */
  valid(now: number): Bucket<T>[] {
    const out: Bucket<T>[] = [];
    for (const b of this.buckets) {
      if (b !== undefined && now - b.start < this.intervalMs && b.start <= now) out.push(b);
    }
    return out;
  }

  /** The bucket that started exactly `ago` ms before the current one, if it still holds that slot. */
  at(now: number, ago: number): Bucket<T> | undefined {
    const start = this.bucketStart(now) - ago;
    return this.buckets.find((b) => b !== undefined && b.start === start);
  }
}
