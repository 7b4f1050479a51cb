/**
 * Adaptive system protection: SystemRuleManager.checkSystem of Sentinel (sentinel-core
 * `slots/system/SystemRuleManager.java`), with Node's event-loop delay in the place of the load
 * average. Sentinel's BBR check — refuse while the threads in flight exceed
 * maxSuccessQps × minRt — runs only once the load crosses its threshold; here once the loop lags
 * `bbrTriggerDelayMs`, once it is busy `bbrTriggerUtilization` of the time (Sentinel's CPU usage;
 * ADR 0025), or once `bbrTriggerQueued` requests wait for the process's bottleneck
 * dependency. The second trigger is the command API's: its limit is the PostgreSQL pool, not its
 * CPU, so under overload its loop stays quick while requests queue for a connection (issue 16's
 * overload bench: nothing shed, P99 175× the unloaded one). Above `maxEventLoopDelayMs`, held for
 * two windows in a row, every new inbound request is shed: a process whose loop lags that much
 * answers nothing on time.
 */
import type { ResourceStat } from './statistic.ts';
import type { SystemRule } from './rules.ts';

export interface SystemSignals {
  /** Event-loop delay (ms) over the last sampling window; 0 when not measured. */
  eventLoopDelayMs: number;
  /**
   * The lower of the last two windows' delays: what the hard ceiling (`maxEventLoopDelayMs`) reads,
   * so that one stall (a long GC, a start-up import, a process descheduled on a busy host) does not
   * refuse every request of the next window — Sentinel's system rule reads a smoothed load for the
   * same reason. Absent: `eventLoopDelayMs` is read.
   */
  sustainedEventLoopDelayMs?: number;
  /** Share of the last sampling window the loop was busy (0–1); absent: not measured. */
  eventLoopUtilization?: number;
  /** Calls waiting for the bottleneck dependency (the PostgreSQL pool's checkout queue); absent: not measured. */
  queuedOutbound?: number;
}

export type SystemVerdict =
  | { pass: true }
  | { pass: false; rule: 'system-max-in-flight' | 'system-event-loop' | 'system-bbr'; retryAfterMs: number };

const SHED_RETRY_MS = 1000;

/** `inbound` aggregates every inbound resource of the process (Sentinel's ENTRY_NODE). */
export function checkSystem(
  rule: SystemRule,
  inbound: ResourceStat,
  signals: SystemSignals,
  now: number,
): SystemVerdict {
  const inFlight = inbound.inFlight;
  if (rule.maxInFlight !== null && inFlight + 1 > rule.maxInFlight) {
    return { pass: false, rule: 'system-max-in-flight', retryAfterMs: SHED_RETRY_MS };
  }
  const delay = signals.sustainedEventLoopDelayMs ?? signals.eventLoopDelayMs;
  if (rule.maxEventLoopDelayMs !== null && delay > rule.maxEventLoopDelayMs) {
    return { pass: false, rule: 'system-event-loop', retryAfterMs: SHED_RETRY_MS };
  }
  if (rule.bbr && saturated(rule, signals) && inFlight >= rule.bbrMinInFlight) {
    // The BBR estimate of what the process can hold: its best throughput times its best latency.
    const capacity = (inbound.maxSuccessQps(now) * (inbound.minRt(now) ?? 0)) / 1000;
    if (inFlight > capacity) return { pass: false, rule: 'system-bbr', retryAfterMs: SHED_RETRY_MS };
  }
  return { pass: true };
}

/**
 * Sentinel's "load above the threshold": the loop lags, is busy nearly all the time, or the
 * bottleneck dependency has a queue.
 */
function saturated(rule: SystemRule, signals: SystemSignals): boolean {
  if (signals.eventLoopDelayMs >= rule.bbrTriggerDelayMs) return true;
  const busy = signals.eventLoopUtilization;
  if (rule.bbrTriggerUtilization !== null && busy !== undefined && busy >= rule.bbrTriggerUtilization)
    return true;
  const queued = signals.queuedOutbound;
  return rule.bbrTriggerQueued !== null && queued !== undefined && queued >= rule.bbrTriggerQueued;
}
