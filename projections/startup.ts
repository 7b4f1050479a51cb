/**
 * Startup of a projection process that outlives its dependencies: each attempt starts whatever
 * has not started yet, a failed attempt is retried with backoff (a broker or database down at
 * start makes the process degraded, never a restart loop), and stop() interrupts it all.
 */
import type { Logger } from '../platform/logger.ts';
import { describeError } from './runtime/errors.ts';

export class StoppedDuringStartup extends Error {
  constructor() {
    super('stopped during startup');
  }
}

export interface Startup {
  readonly signal: AbortSignal;
  /** Awaits `p` unless stop() comes first; a part that starts after stop is disposed at once. */
  unlessStopped: <T>(p: Promise<T>, dispose?: (v: T) => Promise<unknown>) => Promise<T>;
  /** Runs `attempt` until it succeeds (resolves) or stop() (rejects with StoppedDuringStartup). */
  retry: (attempt: () => Promise<void>) => Promise<void>;
  stop: () => void;
}

export function startup(logger: Logger, what: string): Startup {
  const abort = new AbortController();
  const stopped = new Promise<never>((_, reject) =>
    abort.signal.addEventListener('abort', () => reject(new StoppedDuringStartup()), { once: true }),
  );
  stopped.catch(() => undefined);
  const unlessStopped = <T>(p: Promise<T>, dispose?: (v: T) => Promise<unknown>): Promise<T> =>
    Promise.race([
      p.then(async (v) => {
        if (abort.signal.aborted) await dispose?.(v);
        return v;
      }),
      stopped,
    ]);
  return {
    signal: abort.signal,
    unlessStopped,
    async retry(attempt) {
      for (let n = 1; ; n++) {
        try {
          await attempt();
          return;
        } catch (err) {
          if (abort.signal.aborted) throw new StoppedDuringStartup();
          const delayMs = Math.min(30_000, 500 * 2 ** Math.min(n, 6));
          logger.error({ err: describeError(err), attempt: n, delayMs }, `${what} startup failed; retrying`);
          await unlessStopped(new Promise((resolve) => setTimeout(resolve, delayMs)));
        }
      }
    },
    stop: () => abort.abort(),
  };
}

/**
 * Runs `announce` once `ready` resolves. A process stopped while it is still starting (Ctrl-C, the
 * supervisor's stop, a deploy) rejects `ready` with StoppedDuringStartup: that is not an error, and
 * a bare `ready.then(announce)` would turn it into an unhandled rejection, printed as a stack trace
 * on an ordinary stop. Anything else still surfaces.
 */
export function whenStarted(ready: Promise<unknown>, announce: () => void): void {
  void ready.then(announce, (err: unknown) => {
    if (!(err instanceof StoppedDuringStartup)) throw err;
  });
}
