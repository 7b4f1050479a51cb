/**
 * Outbound protection of one dependency (PostgreSQL, the search engine…) with cockatiel: an
 * optional timeout, a bulkhead (concurrency + queue), and two circuit breakers on the same
 * calls, each a SamplingBreaker over a sliding window with half-open probing:
 *  - error ratio: calls that failed the way `isFailure` says a dependency fails (unreachable,
 *    timed out — not a constraint violation or a 404) over all calls it judged;
 *  - slow-call ratio: cockatiel only counts failures, so a call slower than `slowCallMs` is
 *    classified as one for this breaker alone: it throws a SlowCall carrying the real result
 *    inside the breaker, and the guard unwraps it outside, so the caller still gets its answer.
 * Either breaker open (or the bulkhead full) refuses at once with DependencyUnavailableError,
 * which the callers map to their planned degradation (command API: 503 dependency_unavailable
 * with Retry-After; query API: stale cache or a fast 503).
 */
import { AsyncResource } from 'node:async_hooks';
import {
  BrokenCircuitError,
  BulkheadRejectedError,
  CircuitState,
  IsolatedCircuitError,
  SamplingBreaker,
  TaskCancelledError,
  TimeoutStrategy,
  bulkhead,
  circuitBreaker,
  handleWhen,
  timeout,
  type BulkheadPolicy,
  type CircuitBreakerPolicy,
} from 'cockatiel';
import { Gauge, Counter, type Registry } from 'prom-client';
import type { DependencyView } from './admin-view.ts';

export interface DependencyGuardOptions {
  /** Aborts (the signal given to the call) and fails a call after this long; 0: no timeout. */
  timeoutMs: number;
  /** Calls at once; more wait in a queue of `queue`; beyond it refused at once. */
  concurrency: number;
  queue: number;
  /** Open when this share of judged calls failed (0–1) over `windowMs`… */
  errorRatio: number;
  /** …or when this share of calls took longer than `slowCallMs`. */
  slowCallRatio: number;
  slowCallMs: number;
  windowMs: number;
  /** Neither breaker opens below this many calls per second over the window (a quiet hour is not a sample). */
  minimumRps: number;
  /** An open breaker lets one probe through after this long (half-open); its outcome closes or reopens it. */
  halfOpenAfterMs: number;
  /** Which errors count as the dependency failing. */
  isFailure: (err: unknown) => boolean;
}

/** Refused without calling the dependency: breaker open or bulkhead full. `code` for pgErrorKind. */
export class DependencyUnavailableError extends Error {
  readonly code = 'EDEPENDENCYOPEN';
  constructor(
    readonly dependency: string,
    readonly reason: 'breaker-open' | 'bulkhead-full' | 'timeout',
    readonly retryAfterMs: number,
  ) {
    super(`${dependency} unavailable (${reason})`);
    this.name = 'DependencyUnavailableError';
  }
}

/** Thrown inside the breakers only; never reaches a caller. */
class SlowCall extends Error {
  constructor(readonly result: unknown) {
    super('slow call');
  }
}

const stateName = (s: CircuitState): DependencyView['state'] =>
  s === CircuitState.Open
    ? 'open'
    : s === CircuitState.HalfOpen
      ? 'half-open'
      : s === CircuitState.Isolated
        ? 'isolated'
        : 'closed';

export class DependencyGuard {
  private readonly errors: CircuitBreakerPolicy;
  private readonly slow: CircuitBreakerPolicy;
  private readonly bulkhead: BulkheadPolicy;
  private readonly counts = { calls: 0, failures: 0, slowCalls: 0, timeouts: 0, rejected: 0 };

  constructor(
    readonly name: string,
    readonly opts: DependencyGuardOptions,
  ) {
    const breaker = (threshold: number) =>
      new SamplingBreaker({ threshold, duration: opts.windowMs, minimumRps: opts.minimumRps });
    this.errors = circuitBreaker(
      handleWhen((err) => err instanceof TaskCancelledError || opts.isFailure(err)),
      { halfOpenAfter: opts.halfOpenAfterMs, breaker: breaker(opts.errorRatio) },
    );
    this.slow = circuitBreaker(
      handleWhen((err) => err instanceof SlowCall),
      { halfOpenAfter: opts.halfOpenAfterMs, breaker: breaker(opts.slowCallRatio) },
    );
    this.bulkhead = bulkhead(opts.concurrency, opts.queue);
  }

  /** Calls waiting in the bulkhead's queue now (system protection's saturation signal). */
  get queued(): number {
    return this.opts.queue - this.bulkhead.queueSlots;
  }

  /** The worse of the two breakers. */
  get state(): DependencyView['state'] {
    const states = [stateName(this.errors.state), stateName(this.slow.state)];
    for (const s of ['isolated', 'open', 'half-open'] as const) if (states.includes(s)) return s;
    return 'closed';
  }

  /**
   * One call through bulkhead, breakers and timeout. With a free slot the bulkhead runs the call at
   * once, in its caller's async context. A queued call is started later, from the callback of the
   * call that freed its slot: bound to its caller's context, so it runs in its own request's trace
   * (and logging context), not in whichever request finished before it. Only that one is bound: on
   * Node 20 a bind costs an async resource per call (3.6 % of a traced booking's CPU, profiled).
   */
  execute<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const run = (signal: AbortSignal) => this.judge(fn, signal);
    const call = this.bulkhead.executionSlots > 0 ? run : AsyncResource.bind(run);
    return this.translate(this.bulkhead.execute(({ signal }) => call(signal)));
  }

  /**
   * A bulkhead slot held until the returned function is called (a pooled connection checked out
   * for a transaction); refused at once when the bulkhead and its queue are full.
   */
  async hold(): Promise<() => void> {
    let release!: () => void;
    let acquired!: () => void;
    const got = new Promise<void>((r) => (acquired = r));
    const held = this.bulkhead.execute(
      () =>
        new Promise<void>((r) => {
          release = r;
          acquired();
        }),
    );
    await Promise.race([got, this.translate(held)]);
    return release;
  }

  /** Breakers and statistics only (a statement on a connection already held). */
  record<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return this.translate(this.judge(fn, new AbortController().signal));
  }

  private async judge<T>(fn: (signal: AbortSignal) => Promise<T>, signal: AbortSignal): Promise<T> {
    this.counts.calls += 1;
    const timed = (inner: AbortSignal) => {
      if (this.opts.timeoutMs <= 0) return fn(inner);
      return timeout(this.opts.timeoutMs, TimeoutStrategy.Aggressive).execute(
        ({ signal: s }) => fn(s),
        inner,
      );
    };
    try {
      return await this.errors.execute(
        ({ signal: s1 }) =>
          this.slow.execute(async ({ signal: s2 }) => {
            const started = performance.now();
            const result = await timed(s2);
            if (performance.now() - started > this.opts.slowCallMs) throw new SlowCall(result);
            return result;
          }, s1),
        signal,
      );
    } catch (err) {
      if (err instanceof SlowCall) {
        this.counts.slowCalls += 1;
        return err.result as T;
      }
      if (err instanceof TaskCancelledError) this.counts.timeouts += 1;
      else if (!(err instanceof BrokenCircuitError) && this.opts.isFailure(err)) this.counts.failures += 1;
      throw err;
    }
  }

  private async translate<T>(p: Promise<T>): Promise<T> {
    try {
      return await p;
    } catch (err) {
      if (err instanceof BrokenCircuitError || err instanceof IsolatedCircuitError) {
        this.counts.rejected += 1;
        throw new DependencyUnavailableError(this.name, 'breaker-open', this.opts.halfOpenAfterMs);
      }
      if (err instanceof BulkheadRejectedError) {
        this.counts.rejected += 1;
        throw new DependencyUnavailableError(this.name, 'bulkhead-full', 1000);
      }
      if (err instanceof TaskCancelledError) {
        throw new DependencyUnavailableError(this.name, 'timeout', this.opts.halfOpenAfterMs);
      }
      throw err;
    }
  }

  view(): DependencyView {
    return {
      name: this.name,
      state: this.state,
      ...this.counts,
      inFlight: this.opts.concurrency - this.bulkhead.executionSlots,
      queued: this.queued,
      retries: 0,
    };
  }
}

/** Breaker state and call outcomes of every guarded dependency on /metrics (read when scraped). */
export function registerDependencyMetrics(
  registry: Registry,
  guards: () => readonly DependencyGuard[],
): void {
  new Gauge({
    name: 'flow_dependency_breaker_state',
    help: 'Outbound breaker state per dependency: 1 for the current state (closed, open, half-open, isolated), 0 otherwise',
    labelNames: ['dependency', 'state'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const g of guards()) {
        for (const s of ['closed', 'open', 'half-open', 'isolated'] as const) {
          this.set({ dependency: g.name, state: s }, g.state === s ? 1 : 0);
        }
      }
    },
  });
  new Counter({
    name: 'flow_dependency_calls_total',
    help: 'Outbound calls per dependency by outcome: all, failure, slow, timeout, rejected (breaker open or bulkhead full)',
    labelNames: ['dependency', 'outcome'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const g of guards()) {
        const v = g.view();
        this.inc({ dependency: g.name, outcome: 'all' }, v.calls);
        this.inc({ dependency: g.name, outcome: 'failure' }, v.failures);
        this.inc({ dependency: g.name, outcome: 'slow' }, v.slowCalls);
        this.inc({ dependency: g.name, outcome: 'timeout' }, v.timeouts);
        this.inc({ dependency: g.name, outcome: 'rejected' }, v.rejected);
      }
    },
  });
}
