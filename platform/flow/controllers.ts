/**
 * The per-rule decisions, ported from Sentinel 1.8 (github.com/alibaba/Sentinel, sentinel-core
 * `slots/block/flow/controller/`), single-threaded and with the clock passed in: no controller
 * reads a clock, sleeps or starts a timer, so a unit test replays any schedule exactly.
 */
import { LRUCache } from 'lru-cache';
import type { ResourceStat } from './statistic.ts';
import type {
  AdaptiveRule,
  ClusterQpsRule,
  ConcurrencyRule,
  FlowRule,
  HotParamRule,
  PacedRule,
  ParamSource,
  QpsRule,
  WarmUpRule,
} from './rules.ts';

/** A request's parameter values, by source (`ip`, `query`, `path` or `header` and its name). */
export type ParamLookup = (source: ParamSource) => string | undefined;

export interface CheckContext {
  now: number;
  stat: ResourceStat;
  params: ParamLookup;
  /** Requests of the resource waiting in its queue (an adaptive rule's), ahead of this one. */
  queued: number;
}

export type Decision =
  | {
      pass: true;
      waitMs: number;
      undo?: () => void;
      /** Admitted only once the rule has room (`hasRoom`), after at most `maxWaitMs` in its queue. */
      queue?: { maxWaitMs: number; hasRoom: (stat: ResourceStat, now: number) => boolean };
    }
  /** `overload`: the refusal sheds load (503 system_overloaded), not a client's budget (429). */
  | { pass: false; retryAfterMs: number; limit?: number; overload?: boolean };

export interface Controller {
  readonly rule: FlowRule;
  check(ctx: CheckContext): Decision;
}

const PASS: Decision = { pass: true, waitMs: 0 };

/** Until the oldest bucket of the window slides out, which is when the count can drop. */
function untilWindowSlides(stat: ResourceStat, now: number): number {
  let oldest = stat.window.bucketStart(now);
  for (const b of stat.window.valid(now)) oldest = Math.min(oldest, b.start);
  return Math.max(1, oldest + stat.window.intervalMs - now);
}

/** DefaultController: reject once the window's pass QPS would exceed `count`. */
export class QpsController implements Controller {
  constructor(readonly rule: QpsRule) {}

  check({ now, stat }: CheckContext): Decision {
    if (stat.passQps(now) + 1 <= this.rule.count) return PASS;
    return { pass: false, retryAfterMs: untilWindowSlides(stat, now), limit: this.rule.count };
  }
}

/** Java's Math.nextUp for a finite double. */
function nextUp(x: number): number {
  if (!Number.isFinite(x)) return x;
  if (x === 0) return Number.MIN_VALUE;
  const f = new Float64Array([x]);
  const bits = new BigInt64Array(f.buffer);
  bits[0] = bits[0]! + (x > 0 ? 1n : -1n);
  return f[0]!;
}

/**
 * WarmUpController.java, ported line by line (Guava's SmoothWarmingUp as Sentinel adapted it). A
 * bucket of tokens fills while traffic is below count/coldFactor and drains by the passes of each
 * past second; above `warningToken` stored tokens the admitted QPS is 1 / (above × slope + 1/count),
 * so after a quiet spell the threshold starts at count/coldFactor and climbs to `count` over
 * `warmUpPeriodSec` of steady traffic. The Java ints (`(int)`, integer division) are kept as
 * Math.trunc so the thresholds match Sentinel's for the same rule.
 */
export class WarmUpController implements Controller {
  readonly warningToken: number;
  readonly maxToken: number;
  readonly slope: number;
  storedTokens = 0;
  /** Sentinel starts at 0 on an epoch clock, i.e. "long ago": the first sync fills the bucket (cold). */
  private lastFilledTime = Number.NEGATIVE_INFINITY;

  constructor(readonly rule: WarmUpRule) {
    const { count, warmUpPeriodSec: period, coldFactor } = rule;
    this.warningToken = Math.trunc(Math.trunc(period * count) / (coldFactor - 1));
    this.maxToken = this.warningToken + Math.trunc((2 * period * count) / (1.0 + coldFactor));
    this.slope = (coldFactor - 1.0) / count / (this.maxToken - this.warningToken);
  }

  /** The QPS admitted now (what canPass compares passQps + 1 against). */
  threshold(): number {
    if (this.storedTokens >= this.warningToken) {
      const aboveToken = this.storedTokens - this.warningToken;
      return nextUp(1.0 / (aboveToken * this.slope + 1.0 / this.rule.count));
    }
    return this.rule.count;
  }

  check({ now, stat }: CheckContext): Decision {
    const passQps = Math.trunc(stat.passQps(now));
    this.syncToken(now, Math.trunc(stat.previousSecondPass(now)));
    const threshold = this.threshold();
    if (passQps + 1 <= threshold) return PASS;
    return { pass: false, retryAfterMs: untilWindowSlides(stat, now), limit: Math.floor(threshold) };
  }

  private syncToken(now: number, previousQps: number): void {
    const currentTime = now - (now % 1000);
    if (currentTime <= this.lastFilledTime) return;
    const newValue = this.coolDownTokens(currentTime, previousQps);
    this.storedTokens = Math.max(0, newValue - previousQps);
    this.lastFilledTime = currentTime;
  }

  private coolDownTokens(currentTime: number, passQps: number): number {
    const oldValue = this.storedTokens;
    let newValue = oldValue;
    const refill = () =>
      Math.trunc(oldValue + ((currentTime - this.lastFilledTime) * this.rule.count) / 1000);
    // Tokens are added only while the bucket is below the warning line, or above it while traffic
    // is far below the threshold (under count / coldFactor): a busy system does not cool down.
    if (oldValue < this.warningToken) newValue = refill();
    else if (oldValue > this.warningToken) {
      if (passQps < Math.trunc(Math.trunc(this.rule.count) / this.rule.coldFactor)) newValue = refill();
    }
    return Math.min(newValue, this.maxToken);
  }
}

/**
 * ThrottlingController.java (paced queueing, "匀速排队"): requests leave one every 1000/count ms.
 * One that finds the queue's tail later than now waits until its slot; one whose slot lies more
 * than `maxQueueingTimeMs` ahead is refused at once. Sentinel sleeps the thread inside canPass;
 * here the decision returns the wait and the caller sleeps (a timer in the HTTP middleware).
 * Times are fractional milliseconds (Sentinel's nanosecond branch), so rates above 1000/s pace too.
 */
export class PacedController implements Controller {
  /** When the last admitted request leaves (never: -∞, so the first passes at once). */
  latestPassedTime = Number.NEGATIVE_INFINITY;

  constructor(readonly rule: PacedRule) {}

  check({ now }: CheckContext): Decision {
    const costMs = 1000 / this.rule.count;
    const expected = costMs + this.latestPassedTime;
    if (expected <= now) {
      this.latestPassedTime = now;
      return PASS;
    }
    const waitMs = expected - now;
    if (waitMs > this.rule.maxQueueingTimeMs) {
      return { pass: false, retryAfterMs: waitMs - this.rule.maxQueueingTimeMs, limit: this.rule.count };
    }
    this.latestPassedTime = expected;
    return { pass: true, waitMs };
  }
}

/** Reject while `count` requests of the resource are in flight. */
export class ConcurrencyController implements Controller {
  constructor(readonly rule: ConcurrencyRule) {}

  check({ stat }: CheckContext): Decision {
    if (stat.inFlight + 1 <= this.rule.count) return PASS;
    // No clock says when one finishes; a second is what Retry-After can say anyway.
    return { pass: false, retryAfterMs: 1000, limit: this.rule.count };
  }
}

/**
 * BBR per resource (Sentinel's SystemRuleManager.checkBbr on the resource's own node), judged on
 * every request: in flight must stay below `gain` × the window's best completed-per-second rate times
 * its best RT (Little's law: what the resource holds without a queue), and always may reach
 * `minInFlight`. A window with no completion has no estimate: up to `coldInFlight` pass.
 */
export class AdaptiveController implements Controller {
  constructor(readonly rule: AdaptiveRule) {}

  /** The in-flight ceiling now (what the admin view and the tests read). */
  limit(stat: ResourceStat, now: number): number {
    const minRt = stat.minRt(now);
    const qps = stat.maxSuccessQps(now);
    if (minRt === undefined || qps === 0) return Math.max(this.rule.minInFlight, this.rule.coldInFlight);
    return Math.max(this.rule.minInFlight, (this.rule.gain * qps * minRt) / 1000);
  }

  readonly hasRoom = (stat: ResourceStat, now: number): boolean => stat.inFlight < this.limit(stat, now);

  check({ now, stat, queued }: CheckContext): Decision {
    // First come, first served: while some wait, a newcomer queues behind them.
    if (queued === 0 && this.hasRoom(stat, now)) return PASS;
    const maxWaitMs = this.rule.maxQueueMs;
    const rate = stat.maxSuccessQps(now);
    // Expected wait: those ahead (and this one) leave at the window's best completion rate.
    if (maxWaitMs > 0 && rate > 0 && ((queued + 1) * 1000) / rate <= maxWaitMs) {
      return { pass: true, waitMs: 0, queue: { maxWaitMs, hasRoom: this.hasRoom } };
    }
    // A request in flight completes within about one min RT; a second is what Retry-After can say.
    return { pass: false, retryAfterMs: 1000, overload: true };
  }
}

interface TokenBucket {
  tokens: number;
  last: number;
}

/**
 * ParamFlowChecker's QPS grade (sentinel-extension/sentinel-parameter-flow-control): per value a
 * token bucket of `count + burst` refilled at `count` per `durationSec`; an exception's own count
 * replaces `count` for its value. Refill is continuous rather than Sentinel's per-duration step,
 * so a value never gets 2 × count across a duration boundary. Memory is bounded by an LRU of
 * `maxValues` buckets: a value forgotten starts full again (a rarely seen value is no hot spot).
 */
export class HotParamController implements Controller {
  private readonly buckets: LRUCache<string, TokenBucket>;
  private readonly exceptions: Map<string, number>;

  constructor(readonly rule: HotParamRule) {
    this.buckets = new LRUCache({ max: rule.maxValues });
    this.exceptions = new Map(rule.exceptions.map((e) => [e.value, e.count]));
  }

  get trackedValues(): number {
    return this.buckets.size;
  }

  check({ now, params }: CheckContext): Decision {
    const value = params(this.rule.param);
    if (value === undefined) return PASS;
    const count = this.exceptions.get(value) ?? this.rule.count;
    if (count <= 0) return { pass: false, retryAfterMs: this.rule.durationSec * 1000, limit: 0 };
    const capacity = count + this.rule.burst;
    const perMs = count / (this.rule.durationSec * 1000);
    let bucket = this.buckets.get(value);
    if (!bucket) {
      bucket = { tokens: capacity, last: now };
      this.buckets.set(value, bucket);
    }
    bucket.tokens = Math.min(capacity, bucket.tokens + Math.max(0, now - bucket.last) * perMs);
    bucket.last = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      const taken = bucket;
      return {
        pass: true,
        waitMs: 0,
        undo: () => void (taken.tokens = Math.min(capacity, taken.tokens + 1)),
      };
    }
    return { pass: false, retryAfterMs: Math.ceil((1 - bucket.tokens) / perMs), limit: count };
  }
}

/**
 * A cluster-wide budget: nothing to decide synchronously; FlowControl asks Redis (cluster.ts)
 * once every local rule has admitted the request.
 */
export class ClusterQpsController implements Controller {
  constructor(readonly rule: ClusterQpsRule) {}

  check(): Decision {
    return PASS;
  }
}

export function controllerFor(rule: FlowRule): Controller {
  switch (rule.kind) {
    case 'qps':
      return new QpsController(rule);
    case 'warm-up':
      return new WarmUpController(rule);
    case 'paced':
      return new PacedController(rule);
    case 'concurrency':
      return new ConcurrencyController(rule);
    case 'hot-param':
      return new HotParamController(rule);
    case 'cluster-qps':
      return new ClusterQpsController(rule);
    case 'adaptive':
      return new AdaptiveController(rule);
  }
}
