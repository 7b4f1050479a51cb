/**
 * What an API process builds once: the flow control of its inbound routes with the event-loop
 * monitor feeding system protection, and its metrics. Stage 2 swaps the rules live (setRules).
 */
import type { Registry } from 'prom-client';
import { defaultFlowRules } from './default-rules.ts';
import { monitorEventLoop } from './event-loop.ts';
import { FlowControl } from './flow-control.ts';
import { registerFlowMetrics } from './metrics.ts';
import type { FlowRules } from './rules.ts';

export interface InboundFlow {
  flow: FlowControl;
  /** Stops the event-loop monitor. */
  stop: () => void;
}

export function inboundFlow(opts: { registry: Registry; rules?: FlowRules }): InboundFlow {
  const loop = monitorEventLoop();
  const flow = new FlowControl(opts.rules ?? defaultFlowRules(), { signals: loop.signals });
  registerFlowMetrics(opts.registry, flow, loop.signals);
  return { flow, stop: loop.stop };
}
