/**
 * When to try a failed delivery again (pure): exponential backoff with equal jitter (half the
 * step fixed, half random, so retries of many institutions spread out but never come at once),
 * and never sooner than the receiver's `Retry-After`.
 */

/** At most an hour: a Retry-After beyond it is a misconfigured receiver, not a plan. */
const MAX_RETRY_AFTER_MS = 3_600_000;

export function retryDelayMs(
  attempt: number,
  opts: { baseMs: number; maxMs: number; retryAfterMs?: number | undefined; random?: () => number },
): number {
  const step = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.max(0, attempt - 1));
  const jittered = step / 2 + (opts.random ?? Math.random)() * (step / 2);
  const floor = Math.min(opts.retryAfterMs ?? 0, MAX_RETRY_AFTER_MS);
  return Math.round(Math.max(jittered, floor));
}

/** `Retry-After` as milliseconds from `nowMs`: delta seconds or an HTTP date; undefined if absent or invalid. */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}
