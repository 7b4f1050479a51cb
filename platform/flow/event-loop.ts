/**
 * The event-loop delay system protection reads: `perf_hooks.monitorEventLoopDelay` sampled every
 * `windowMs` (a timer outside every rule decision), as the mean delay of that window. The mean,
 * not a high percentile: one long GC pause in an otherwise idle window must not shed the next
 * half second of traffic, a loop that lags throughout must.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { SystemSignals } from './system.ts';

export interface EventLoopMonitor {
  signals: () => SystemSignals;
  stop: () => void;
}

export function monitorEventLoop(opts: { windowMs?: number; resolutionMs?: number } = {}): EventLoopMonitor {
  const histogram = monitorEventLoopDelay({ resolution: opts.resolutionMs ?? 10 });
  histogram.enable();
  let current: SystemSignals = { eventLoopDelayMs: 0 };
  const timer = setInterval(() => {
    // The histogram holds delays beyond the timer's resolution, in nanoseconds.
    const mean = histogram.count > 0 ? histogram.mean / 1e6 : 0;
    current = { eventLoopDelayMs: Number.isFinite(mean) ? Math.max(0, mean - (opts.resolutionMs ?? 10)) : 0 };
    histogram.reset();
  }, opts.windowMs ?? 500);
  timer.unref();
  return {
    signals: () => current,
    stop: () => {
      clearInterval(timer);
      histogram.disable();
    },
  };
}
