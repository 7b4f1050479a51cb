/**
 * A value sampled in the background (consumer-group lag, a broker round trip), so health
 * endpoints read the last sample instead of awaiting a dependency that may hang for seconds.
 * One sample at a time: while one is in flight (a broker that does not answer), the next tick is
 * skipped, and the sample counts as failed once it is older than its timeout.
 */

export interface Sample<T> {
  ok: boolean;
  value?: T;
  error?: string;
  /** When the sample finished (ms since epoch). */
  at: number;
}

export interface SamplerView<T> {
  readonly name: string;
  /** The last finished sample, if any. */
  last(): Sample<T> | undefined;
  /** The last successful value and how old it is. */
  lastGood(): { value: T; ageMs: number } | undefined;
  /** Throws with the reason unless the last sample succeeded recently (a health check). */
  check(): void;
  /** For health bodies: the last value, its age, and the last error. */
  report(): Record<string, unknown>;
}

export interface Sampler<T> extends SamplerView<T> {
  /** Takes a sample now (unless one is in flight) and resolves when it finished. */
  sampleNow(): Promise<void>;
  stop(): void;
}

export interface SamplerOptions<T> {
  name: string;
  read: () => Promise<T>;
  intervalMs?: number;
  /** A sample not finished by then counts as failed (it keeps running; the next waits for it). */
  timeoutMs?: number;
  /** A success older than this no longer counts as healthy. Default 3 intervals. */
  maxAgeMs?: number;
  now?: () => number;
}

const describe = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export function startSampler<T>(opts: SamplerOptions<T>): Sampler<T> {
  const intervalMs = opts.intervalMs ?? 5_000;
  const timeoutMs = opts.timeoutMs ?? 2_000;
  const maxAgeMs = opts.maxAgeMs ?? intervalMs * 3;
  const now = opts.now ?? Date.now;
  let last: Sample<T> | undefined;
  let good: { value: T; at: number } | undefined;
  /** The sample being taken: when it started, and when it finished or timed out. */
  let inFlight: { since: number; done: Promise<void> } | undefined;

  const record = (sample: Sample<T>) => {
    last = sample;
    if (sample.ok) good = { value: sample.value as T, at: sample.at };
  };

  const sampleNow = (): Promise<void> => {
    if (inFlight) return inFlight.done;
    const since = now();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        record({ ok: false, error: `no answer within ${timeoutMs} ms`, at: now() });
        resolve();
      }, timeoutMs);
      timer.unref();
    });
    const read = opts.read().then(
      (value) => record({ ok: true, value, at: now() }),
      (err: unknown) => record({ ok: false, error: describe(err), at: now() }),
    );
    const done = read.finally(() => {
      clearTimeout(timer);
      inFlight = undefined;
    });
    // Callers wait for the sample or its deadline, whichever is first.
    const settled = Promise.race([done, timedOut]);
    inFlight = { since, done: settled };
    return settled;
  };

  const timer = setInterval(() => void sampleNow(), intervalMs);
  timer.unref();
  void sampleNow();

  const view: Sampler<T> = {
    name: opts.name,
    last: () => last,
    lastGood: () => (good ? { value: good.value, ageMs: now() - good.at } : undefined),
    check() {
      if (inFlight && now() - inFlight.since > timeoutMs) {
        throw new Error(`no answer for ${now() - inFlight.since} ms`);
      }
      if (!last) throw new Error('no sample yet');
      if (!last.ok) throw new Error(last.error ?? 'failed');
      if (now() - last.at > maxAgeMs) throw new Error(`last sample is ${now() - last.at} ms old`);
    },
    report() {
      const g = view.lastGood();
      return {
        ...(g ? { value: g.value, ageMs: g.ageMs } : { value: null }),
        ...(last && !last.ok ? { error: last.error } : {}),
      };
    },
    sampleNow,
    stop: () => clearInterval(timer),
  };
  return view;
}
