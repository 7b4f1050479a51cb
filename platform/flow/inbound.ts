/**
 * What an API process builds once: the flow control of its inbound routes with the event-loop
 * monitor feeding system protection, its metrics, and (given a rule store) the watch that applies
 * the rules stored in Redis within 2 s (rule-store.ts).
 */
import type { Registry } from 'prom-client';
import type { Logger } from '../logger.ts';
import { defaultFlowRules } from './default-rules.ts';
import { monitorEventLoop, type EventLoopSignals } from './event-loop.ts';
import type { ClusterBudgets } from './cluster.ts';
import { FlowControl } from './flow-control.ts';
import { registerFlowMetrics } from './metrics.ts';
import type { FlowRules } from './rules.ts';
import { watchFlowRules, type FlowRuleStore, type FlowRuleWatch } from './rule-store.ts';

export interface InboundFlow {
  flow: FlowControl;
  /** The rules applied and their version (the file default at version 0 without a store). */
  watch: FlowRuleWatch;
  /** The event loop's mean delay (ms) and utilization over the last sampling window. */
  eventLoop: () => EventLoopSignals;
  /** Stops the event-loop monitor and the rule watch. */
  stop: () => void;
}

/** A watch that never changes anything: the rules given at start. */
function staticRules(flow: FlowControl): FlowRuleWatch {
  const current = { version: 0, source: 'default' as const, rules: flow.currentRules };
  return { current: () => current, refresh: () => Promise.resolve(), stop: () => undefined };
}

export function inboundFlow(opts: {
  registry: Registry;
  rules?: FlowRules;
  store?: FlowRuleStore;
  /** Where cluster-qps rules count (Redis); default: the local share only. */
  cluster?: ClusterBudgets;
  /** How often the store is polled (default 1 s). */
  pollMs?: number;
  /** Calls waiting for the process's bottleneck dependency (system protection's BBR trigger). */
  queuedOutbound?: () => number;
  logger?: Logger;
}): InboundFlow {
  const loop = monitorEventLoop();
  const { queuedOutbound } = opts;
  const signals = queuedOutbound
    ? () => ({ ...loop.signals(), queuedOutbound: queuedOutbound() })
    : loop.signals;
  const flow = new FlowControl(opts.rules ?? opts.store?.fallback() ?? defaultFlowRules(), {
    signals,
    ...(opts.cluster ? { cluster: opts.cluster } : {}),
  });
  registerFlowMetrics(opts.registry, flow, loop.signals);
  const watch = opts.store
    ? watchFlowRules(opts.store, flow, {
        ...(opts.pollMs === undefined ? {} : { intervalMs: opts.pollMs }),
        ...(opts.logger ? { logger: opts.logger } : {}),
      })
    : staticRules(flow);
  return {
    flow,
    watch,
    eventLoop: loop.signals,
    stop: () => {
      watch.stop();
      loop.stop();
    },
  };
}
