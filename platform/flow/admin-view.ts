/**
 * What `GET /v1/admin/flow` shows: the rules version applied, every resource's live figures over
 * its window with its rules, system protection, and every outbound dependency's breaker and
 * bulkhead. The zod schemas document the answer (OpenAPI) from the same place that builds it.
 */
import { z } from 'zod';
import type { FlowControl } from './flow-control.ts';
import type { EventLoopSignals } from './event-loop.ts';
import { flowRule, flowRulesSchema } from './rules.ts';
import type { StoredFlowRules } from './rule-store.ts';

const statSnapshot = z.object({
  passQps: z.number(),
  blockQps: z.number(),
  successQps: z.number(),
  errorQps: z.number(),
  inFlight: z.number(),
  avgRtMs: z.number(),
  minRtMs: z.number(),
  p50RtMs: z.number(),
  p99RtMs: z.number(),
});

export const storedRulesView = z.object({
  version: z.number().int().min(0).describe('0: the file default (nothing stored in Redis)'),
  source: z.enum(['default', 'redis']),
  updatedAt: z.string().optional(),
  updatedBy: z.string().optional(),
  rules: flowRulesSchema,
});

export const breakerState = z.enum(['closed', 'open', 'half-open', 'isolated']);

export const dependencyView = z.object({
  name: z.string(),
  state: breakerState,
  calls: z.number().int(),
  failures: z.number().int().describe('errors and timeouts, slow calls not included'),
  slowCalls: z.number().int().describe('calls slower than slowCallMs (counted as failures by the breaker)'),
  timeouts: z.number().int(),
  rejected: z.number().int().describe('refused at once: breaker open or bulkhead full'),
  inFlight: z.number().int(),
  queued: z.number().int(),
  retries: z.number().int(),
});
export type DependencyView = z.infer<typeof dependencyView>;

export const flowView = z.object({
  rules: storedRulesView.omit({ rules: true }),
  system: z.object({
    eventLoopDelayMs: z.number(),
    sustainedEventLoopDelayMs: z
      .number()
      .describe('the lower of the last two windows’ delays (ms): what the hard ceiling reads'),
    eventLoopUtilization: z
      .number()
      .describe('share of the last sampling window the event loop was busy (0-1)'),
    inbound: statSnapshot,
    blocks: z.record(z.string(), z.number()),
  }),
  resources: z.array(
    z.object({
      name: z.string(),
      stats: statSnapshot,
      passed: z.number().int(),
      queued: z.number().int().describe('requests waiting now in an adaptive rule’s queue (maxQueueMs)'),
      blocked: z.record(z.string(), z.number()).describe('refusals since start, by rule'),
      rules: z.array(flowRule),
    }),
  ),
  dependencies: z.array(dependencyView),
});
export type FlowView = z.infer<typeof flowView>;

export function flowViewOf(opts: {
  flow: FlowControl;
  stored: StoredFlowRules;
  eventLoop: EventLoopSignals;
  dependencies: readonly DependencyView[];
}): FlowView {
  const { flow } = opts;
  const now = flow.now();
  const { rules: _rules, ...rules } = opts.stored;
  return {
    rules,
    system: {
      ...opts.eventLoop,
      inbound: flow.inbound.snapshot(now),
      blocks: Object.fromEntries(flow.systemBlocks),
    },
    resources: [...flow.allResources()].map(([name, stat]) => ({
      name,
      stats: stat.snapshot(now),
      passed: stat.totals.pass + stat.totals.fastPass,
      queued: flow.queued(name),
      blocked: Object.fromEntries(stat.totals.block),
      rules: flow.controllers(name).map((c) => c.rule),
    })),
    dependencies: [...opts.dependencies],
  };
}
