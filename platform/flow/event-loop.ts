/**
 * The event-loop signals system protection reads, sampled every `windowMs` (a timer outside every
 * rule decision):
 * - the mean delay of the window (`perf_hooks.monitorEventLoopDelay`). The mean, not a high
 *   percentile: one long GC pause in an otherwise idle window must not shed the next half second
 *   of traffic, a loop that lags throughout must; and the lower of the last two windows' means,
 *   which the hard ceiling reads: a stall that fills one window (a start-up import, a process
 *   descheduled for half a second on a busy host) is not a loop that lags;
 * - the loop's utilization over the window (`performance.eventLoopUtilization`, the share of time
 *   not waiting for I/O): Node's measure of a busy CPU, which Sentinel's system rule reads as the
 *   process's CPU usage. A saturated loop can keep a short delay while requests wait unread in
 *   the kernel's socket buffers, where no in-process statistic sees them.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { SystemSignals } from './system.ts';

/** The loop's share of system protection's signals. */
export type EventLoopSignals = Required<
  Pick<SystemSignals, 'eventLoopDelayMs' | 'sustainedEventLoopDelayMs' | 'eventLoopUtilization'>
>;

export interface EventLoopMonitor {
  signals: () => EventLoopSignals;
  stop: () => void;
}

export function monitorEventLoop(opts: { windowMs?: number; resolutionMs?: number } = {}): EventLoopMonitor {
  const histogram = monitorEventLoopDelay({ resolution: opts.resolutionMs ?? 10 });
  histogram.enable();
  let current: EventLoopSignals = {
    eventLoopDelayMs: 0,
    sustainedEventLoopDelayMs: 0,
    eventLoopUtilization: 0,
  };
  let utilization = performance.eventLoopUtilization();
  const timer = setInterval(() => {
    // The histogram holds delays beyond the timer's resolution, in nanoseconds.
    const mean = histogram.count > 0 ? histogram.mean / 1e6 : 0;
    const window = performance.eventLoopUtilization(utilization);
    utilization = performance.eventLoopUtilization();
    const delay = Number.isFinite(mean) ? Math.max(0, mean - (opts.resolutionMs ?? 10)) : 0;
    current = {
      eventLoopDelayMs: delay,
      sustainedEventLoopDelayMs: Math.min(delay, current.eventLoopDelayMs),
      eventLoopUtilization: window.utilization,
    };
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
