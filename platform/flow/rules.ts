/**
 * Flow rules as data: zod schemas of every rule kind, so a file default (default-rules.ts) and,
 * later, a document read from Redis or sent to an admin route are validated the same way.
 *
 * Per resource (`METHOD /path/template` for inbound routes, a dependency's name for outbound
 * calls) an ordered list of rules; all must admit a request. `system` protects the whole process
 * (inbound resources only). Rates are per second unless a rule says otherwise.
 */
import { z } from 'zod';

const positive = z.number().positive().finite();
const count = z.number().int().min(0);

/** Reject what exceeds `count` passes per second on the sliding window (Sentinel's DefaultController). */
export const qpsRule = z.object({
  kind: z.literal('qps'),
  count: positive,
});

/**
 * Reject over a threshold that starts at count/coldFactor after a quiet spell and rises to `count`
 * over `warmUpPeriodSec` (Sentinel's WarmUpController): a cold cache or pool is not hit at full rate.
 */
export const warmUpRule = z.object({
  kind: z.literal('warm-up'),
  count: positive,
  warmUpPeriodSec: z.number().int().min(1).max(3600),
  coldFactor: z.number().int().min(2).max(100).default(3),
});

/**
 * Paced queueing (Sentinel's ThrottlingController, "匀速排队"): requests leave one every
 * 1000/count ms; one that would wait longer than `maxQueueingTimeMs` is refused at once.
 */
export const pacedRule = z.object({
  kind: z.literal('paced'),
  count: positive,
  maxQueueingTimeMs: z.number().int().min(0).max(60_000),
});

/** At most `count` requests in flight (admitted and not yet completed). */
export const concurrencyRule = z.object({
  kind: z.literal('concurrency'),
  count: z.number().int().min(1),
});

/**
 * BBR on the resource's own figures, judged always (Sentinel judges its system-wide BBR only once
 * the load crosses a threshold; a route whose bottleneck is a pool, not the CPU, never crosses it):
 * admit while the requests in flight stay below gain × maxSuccessQps × minRt of the resource's window, and
 * always up to `minInFlight` (the bottleneck's own parallelism: the PostgreSQL pool's size). While
 * the window holds no completed request (a cold process, a quiet spell) there is no estimate: up
 * to `coldInFlight` pass. Refused requests are overload, answered 503 system_overloaded.
 */
export const adaptiveRule = z.object({
  kind: z.literal('adaptive'),
  minInFlight: z.number().int().min(1).default(8),
  coldInFlight: z.number().int().min(1).default(64),
  /**
   * In flight up to `gain` × the estimate: the estimate is what the resource held at the throughput
   * it was offered, and a resource whose throughput grows with concurrency (a pool's parallel
   * commits) can only show it if admitted beyond that. 3, not TCP BBR's 2: at 2 the closed-loop
   * booking benchmark collapsed (refusals' CPU raised the admitted requests' RT, which lowered the
   * limit: 105 bookings/s against 336/s without the rule); at 3 it held 337/s (ADR 0011, 2026-12-01).
   */
  gain: z.number().min(1).max(10).default(3),
  /**
   * Past the limit, a request waits in a FIFO queue for one in flight to finish, at most this
   * long, instead of being shed at once; one whose expected wait (the requests ahead of it at the
   * window's best completion rate) is longer is shed at once, as paced queueing does. 0: shed at
   * once (Sentinel's BBR). A saturated event loop reads requests in bursts, one loop turn's worth
   * at a time: a limit near the knee of the throughput curve refuses most of a burst that a short
   * wait would serve (ADR 0032).
   */
  maxQueueMs: z.number().min(0).max(10_000).default(0),
});

/** Where a hot parameter's value comes from in an inbound request (`ip`: the client address). */
export const paramSource = z.discriminatedUnion('from', [
  z.object({ from: z.literal('ip') }),
  z.object({ from: z.literal('query'), name: z.string().min(1) }),
  z.object({ from: z.literal('path'), name: z.string().min(1) }),
  z.object({ from: z.literal('header'), name: z.string().min(1).toLowerCase() }),
]);

/**
 * A token bucket per value of one request parameter (Sentinel's ParamFlowChecker, QPS grade):
 * `count` per `durationSec` and `burst` extra, with per-value exceptions; at most `maxValues`
 * values are tracked (least recently used forgotten). A request without the parameter passes.
 */
export const hotParamRule = z.object({
  kind: z.literal('hot-param'),
  param: paramSource,
  count,
  durationSec: z.number().int().min(1).max(86_400).default(1),
  burst: count.default(0),
  exceptions: z.array(z.object({ value: z.string(), count })).default([]),
  maxValues: z.number().int().min(1).max(1_000_000).default(10_000),
});

/**
 * A budget shared by every instance through Redis (cluster.ts): `count` per `durationSec` for the
 * whole resource, or per value of `param` when set (a request without it passes). While Redis is
 * unreachable each instance admits its local share, count / `instances` (rounded up).
 */
export const clusterQpsRule = z.object({
  kind: z.literal('cluster-qps'),
  count: z.number().int().min(1),
  durationSec: z.number().int().min(1).max(86_400).default(1),
  param: paramSource.optional(),
  instances: z.number().int().min(1).max(1000).default(2),
});

export const flowRule = z.discriminatedUnion('kind', [
  qpsRule,
  warmUpRule,
  pacedRule,
  concurrencyRule,
  hotParamRule,
  clusterQpsRule,
  adaptiveRule,
]);

/**
 * Adaptive system protection (Sentinel's SystemRuleManager with its BBR check; the event-loop
 * delay stands in for the load average as the trigger). Applies to inbound resources only.
 */
export const systemRule = z.object({
  /** Hard ceiling on inbound requests in flight in the process (null: none). */
  maxInFlight: z.number().int().min(1).nullable().default(null),
  /**
   * BBR: while the event loop lags at least `bbrTriggerDelayMs` (mean over the sampling window),
   * or is busy at least `bbrTriggerUtilization` of the window (null: that trigger off), or at
   * least `bbrTriggerQueued` calls wait for the process's bottleneck dependency (null: that
   * trigger off), admit only while in flight ≤ max success QPS × min RT (and always up to
   * `bbrMinInFlight`).
   */
  bbr: z.boolean().default(true),
  bbrTriggerDelayMs: z.number().min(0).default(50),
  bbrTriggerUtilization: z.number().gt(0).max(1).nullable().default(null),
  bbrTriggerQueued: z.number().int().min(1).nullable().default(null),
  bbrMinInFlight: z.number().int().min(1).default(4),
  /** Shed every new inbound request while the event loop lags more than this (null: never). */
  maxEventLoopDelayMs: z.number().positive().nullable().default(500),
});

const resourceRules = z.array(flowRule).superRefine((rules, ctx) => {
  // A paced rule answers with a wait; rules after it would be judged before the wait ends.
  const paced = rules.filter((r) => r.kind === 'paced').length;
  if (paced > 1) ctx.addIssue({ code: 'custom', message: 'at most one paced rule per resource' });
  if (paced === 1 && rules.at(-1)?.kind !== 'paced') {
    ctx.addIssue({ code: 'custom', message: 'a paced rule must come last' });
  }
});

export const flowRulesSchema = z.object({
  /** Rules per resource name. */
  resources: z.record(z.string().min(1), resourceRules).default({}),
  system: systemRule.default(systemRule.parse({})),
  /** Sliding window of the statistics the QPS rules judge by (Sentinel: 2 × 500 ms). */
  window: z
    .object({
      sampleCount: z.number().int().min(1).max(60).default(2),
      intervalMs: z.number().int().min(100).max(60_000).default(1000),
    })
    .refine((w) => w.intervalMs % w.sampleCount === 0, { message: 'intervalMs must divide by sampleCount' })
    .default({ sampleCount: 2, intervalMs: 1000 }),
});

export type QpsRule = z.infer<typeof qpsRule>;
export type WarmUpRule = z.infer<typeof warmUpRule>;
export type PacedRule = z.infer<typeof pacedRule>;
export type ConcurrencyRule = z.infer<typeof concurrencyRule>;
export type HotParamRule = z.infer<typeof hotParamRule>;
export type ClusterQpsRule = z.infer<typeof clusterQpsRule>;
export type AdaptiveRule = z.infer<typeof adaptiveRule>;
export type ParamSource = z.infer<typeof paramSource>;
export type FlowRule = z.infer<typeof flowRule>;
export type SystemRule = z.infer<typeof systemRule>;
export type FlowRules = z.infer<typeof flowRulesSchema>;
/** What a rules document may omit (defaults filled in by `parseFlowRules`). */
export type FlowRulesInput = z.input<typeof flowRulesSchema>;

/** Validates a rules document; throws a zod error naming each bad field. */
export const parseFlowRules = (input: unknown): FlowRules => flowRulesSchema.parse(input);
