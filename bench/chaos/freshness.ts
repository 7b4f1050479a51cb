/**
 * How stale the read side is, from two series sampled side by side: the event store's count of
 * bookings (the truth) and the count a read side shows (query API, search index).
 *
 * The staleness of a read sample is the age of the oldest write it does not show: the time since
 * the store first held more than the read side shows (0 when it shows everything the store held
 * when it was read). A read side that did not answer is stale by definition (Infinity).
 */
export interface Sample {
  at: number;
  /** undefined: no answer (error, timeout, 5xx). */
  count: number | undefined;
}

export function stalenessOf(store: readonly Sample[], read: Sample): number {
  if (read.count === undefined) return Infinity;
  const shown = read.count;
  const firstAhead = store.find((s) => s.at <= read.at && s.count !== undefined && s.count > shown);
  return firstAhead === undefined ? 0 : read.at - firstAhead.at;
}

export interface Recovery {
  /** Seconds from the fault's end until the read side was fresh again (0: it never went stale after it). */
  freshAfterSeconds: number | undefined;
  /** Worst staleness seen in the window, in seconds (Infinity: it did not answer for a while). */
  maxStalenessSeconds: number;
  /** True when the read side was still stale at the last sample. */
  stillStale: boolean;
}

/**
 * When the read side became fresh for good after `liftedAt`: the first fresh sample after the last
 * stale one. Fresh means stale by at most `thresholdMs` (the normal projection delay is well below
 * it; a stall is well above).
 */
export function recoveryOf(
  store: readonly Sample[],
  reads: readonly Sample[],
  liftedAt: number,
  thresholdMs = 1_000,
): Recovery {
  const staleness = reads.map((r) => ({ at: r.at, ms: stalenessOf(store, r) }));
  const maxStalenessSeconds = staleness.reduce((m, s) => Math.max(m, s.ms), 0) / 1000;
  const lastStale = staleness.findLastIndex((s) => s.ms > thresholdMs);
  if (lastStale === -1) return { freshAfterSeconds: 0, maxStalenessSeconds, stillStale: false };
  const freshAgain = staleness[lastStale + 1];
  if (freshAgain === undefined)
    return { freshAfterSeconds: undefined, maxStalenessSeconds, stillStale: true };
  return {
    freshAfterSeconds: Math.max(0, freshAgain.at - liftedAt) / 1000,
    maxStalenessSeconds,
    stillStale: false,
  };
}
