/**
 * The flow rules of platform/flow, each on a fake clock: every decision takes `now`, so a schedule
 * of arrivals replays exactly. Given a rule, when requests arrive so, then so many pass.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { HotParamController } from '../../platform/flow/controllers.ts';
import { WarmUpController } from '../../platform/flow/controllers.ts';
import { FlowControl, type Blocked, type Entry } from '../../platform/flow/flow-control.ts';
import { parseFlowRules, type FlowRule } from '../../platform/flow/rules.ts';

const flowWith = (rules: FlowRule[] | Record<string, unknown>[]) =>
  new FlowControl(parseFlowRules({ resources: { r: rules } }), { clock: () => 0 });

/** Requests at `times` (ms); each admitted one completes at once unless `hold`. */
function drive(
  flow: FlowControl,
  times: readonly number[],
  opts: { hold?: boolean; params?: Record<string, string> } = {},
) {
  return times.map((now) => {
    const e = flow.entry('r', { now, ...(opts.params ? { params: opts.params } : {}) });
    if (e.pass && !opts.hold) e.release({ now });
    return e;
  });
}

const passed = (es: (Entry | Blocked)[]) => es.filter((e) => e.pass).length;

describe('QPS rule (reject)', () => {
  it('given 10/s, when 25 arrive in the same instant, then 10 pass and the rest are refused until the window slides', () => {
    const flow = flowWith([{ kind: 'qps', count: 10 }]);
    const results = drive(
      flow,
      Array.from({ length: 25 }, () => 100),
    );
    expect(passed(results)).toBe(10);
    const refused = results.find((e): e is Blocked => !e.pass)!;
    expect(refused).toMatchObject({ rule: 'qps', system: false, limit: 10 });
    // The window is 2 × 500 ms: the bucket of t=100 leaves the window at t=1000.
    expect(refused.retryAfterMs).toBe(900);
    expect(flow.entry('r', { now: 999 }).pass).toBe(false);
    expect(flow.entry('r', { now: 1000 }).pass).toBe(true);
  });

  it('property: never passes more than N in any window of the statistic', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.array(fc.integer({ min: 0, max: 5_000 }), { maxLength: 400 }),
        (count, raw) => {
          const times = [...raw].sort((a, b) => a - b);
          const flow = flowWith([{ kind: 'qps', count }]);
          const passTimes = times.filter((t) => flow.entry('r', { now: t }).pass);
          // Any window the statistic can see: two consecutive 500 ms buckets.
          for (let start = 0; start <= 5_000; start += 500) {
            const inWindow = passTimes.filter((t) => t >= start && t < start + 1000).length;
            expect(inWindow).toBeLessThanOrEqual(count);
          }
        },
      ),
    );
  });
});

describe('warm-up rule (WarmUpController, coldFactor 3)', () => {
  it("given Sentinel's example (100/s over 10 s), then its tokens and slope are Sentinel's", () => {
    const c = new WarmUpController({ kind: 'warm-up', count: 100, warmUpPeriodSec: 10, coldFactor: 3 });
    expect(c.warningToken).toBe(500);
    expect(c.maxToken).toBe(1000);
    expect(c.slope).toBeCloseTo(0.00004, 10);
  });

  it('when cold and hammered (200/s), then it admits count/3 at first and climbs to count over the warm-up period', () => {
    const flow = flowWith([{ kind: 'warm-up', count: 100, warmUpPeriodSec: 10 }]);
    const perSecond: number[] = [];
    for (let t = 0; t < 20_000; t += 5) {
      if (flow.entry('r', { now: t }).pass)
        perSecond[Math.floor(t / 1000)] = (perSecond[Math.floor(t / 1000)] ?? 0) + 1;
      else perSecond[Math.floor(t / 1000)] ??= 0;
    }
    console.log(`[flow warm-up] passes per second, cold start at 200/s offered: ${perSecond.join(' ')}`);
    expect(perSecond[0]).toBe(33);
    for (let s = 1; s < perSecond.length; s++)
      expect(perSecond[s]!).toBeGreaterThanOrEqual(perSecond[s - 1]!);
    expect(perSecond[5]!).toBeLessThan(60);
    expect(perSecond.slice(12).every((n) => n === 100)).toBe(true);
  });

  it('when warm and then quiet for a while, then it is cold again', () => {
    const flow = flowWith([{ kind: 'warm-up', count: 100, warmUpPeriodSec: 10 }]);
    for (let t = 0; t < 20_000; t += 5) flow.entry('r', { now: t });
    const warm = passed(
      drive(
        flow,
        Array.from({ length: 200 }, (_, i) => 20_000 + i * 4),
      ),
    );
    expect(warm).toBe(100);
    const cold = passed(
      drive(
        flow,
        Array.from({ length: 200 }, (_, i) => 80_000 + i * 4),
      ),
    );
    expect(cold).toBe(33);
  });
});

describe('paced queueing (ThrottlingController)', () => {
  it('given 10/s and 500 ms max wait, when 10 arrive at once, then they leave 100 ms apart and those past 500 ms are refused', () => {
    const flow = flowWith([{ kind: 'paced', count: 10, maxQueueingTimeMs: 500 }]);
    const results = drive(
      flow,
      Array.from({ length: 10 }, () => 1_000),
    );
    expect(results.map((e) => (e.pass ? e.waitMs : 'refused'))).toEqual([
      0,
      100,
      200,
      300,
      400,
      500,
      'refused',
      'refused',
      'refused',
      'refused',
    ]);
    const refused = results[6] as Blocked;
    expect(refused).toMatchObject({ rule: 'paced', limit: 10 });
    expect(refused.retryAfterMs).toBe(100);
    // Once the queue has moved on, a newcomer gets a slot again.
    const later = flow.entry('r', { now: 1_150 });
    expect(later.pass && later.waitMs).toBe(450);
  });

  it('property: no admitted request waits longer than the maximum, and they leave at the steady interval', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.integer({ min: 0, max: 2_000 }),
        fc.array(fc.integer({ min: 0, max: 3_000 }), { maxLength: 300 }),
        (count, maxWait, raw) => {
          const flow = flowWith([{ kind: 'paced', count, maxQueueingTimeMs: maxWait }]);
          const departures: number[] = [];
          for (const now of [...raw].sort((a, b) => a - b)) {
            const e = flow.entry('r', { now });
            if (!e.pass) continue;
            expect(e.waitMs).toBeLessThanOrEqual(maxWait);
            departures.push(now + e.waitMs);
          }
          const interval = 1000 / count;
          for (let i = 1; i < departures.length; i++) {
            expect(departures[i]! - departures[i - 1]!).toBeGreaterThanOrEqual(interval - 1e-6);
          }
        },
      ),
    );
  });
});

describe('concurrency rule', () => {
  it('given 2, when two are in flight, then a third is refused until one is released', () => {
    const flow = flowWith([{ kind: 'concurrency', count: 2 }]);
    const [a, b, c] = drive(flow, [0, 0, 0], { hold: true });
    expect([a!.pass, b!.pass, c!.pass]).toEqual([true, true, false]);
    expect(c).toMatchObject({ rule: 'concurrency', limit: 2 });
    (a as Entry).release({ now: 10 });
    (a as Entry).release({ now: 11 }); // idempotent: frees one slot, not two
    expect(flow.stat('r').inFlight).toBe(1);
    expect(flow.entry('r', { now: 12 }).pass).toBe(true);
    expect(flow.entry('r', { now: 12 }).pass).toBe(false);
  });
});

describe('hot-parameter rule', () => {
  const rule = {
    kind: 'hot-param',
    param: { from: 'query', name: 'city' },
    count: 2,
    burst: 1,
    exceptions: [
      { value: 'beijing', count: 5 },
      { value: 'banned', count: 0 },
    ],
    maxValues: 3,
  } as const;

  it('given 2/s + burst 1 per city, then each city gets 3 at once and its own refill, an exception its own count', () => {
    const flow = flowWith([rule]);
    const at = (city: string, n: number, now = 0) =>
      passed(
        drive(
          flow,
          Array.from({ length: n }, () => now),
          { params: { 'query:city': city } },
        ),
      );
    expect(at('shanghai', 10)).toBe(3);
    expect(at('hangzhou', 10)).toBe(3);
    expect(at('beijing', 10)).toBe(6);
    expect(at('banned', 1)).toBe(0);
    // 2 per second: after 500 ms one token is back for shanghai.
    expect(at('shanghai', 5, 500)).toBe(1);
    const refused = flow.entry('r', { now: 500, params: { 'query:city': 'shanghai' } }) as Blocked;
    expect(refused).toMatchObject({ pass: false, rule: 'hot-param', limit: 2 });
    expect(refused.retryAfterMs).toBe(500);
    // Without the parameter the rule has nothing to judge.
    expect(flow.entry('r', { now: 500 }).pass).toBe(true);
  });

  it('property: memory stays bounded by maxValues whatever values arrive', () => {
    fc.assert(
      fc.property(fc.array(fc.string(), { maxLength: 200 }), (values) => {
        const flow = flowWith([rule]);
        for (const v of values) flow.entry('r', { now: 0, params: { 'query:city': v } });
        const controller = flow.controllers('r')[0] as HotParamController;
        expect(controller.trackedValues).toBeLessThanOrEqual(3);
      }),
    );
  });

  it('when a later rule refuses, then the token the hot-parameter rule took is given back', () => {
    const flow = flowWith([
      { kind: 'hot-param', param: { from: 'ip' }, count: 1 },
      { kind: 'paced', count: 1, maxQueueingTimeMs: 0 },
    ]);
    expect(flow.entry('r', { now: 0, params: { ip: 'a' } }).pass).toBe(true);
    // The paced rule refuses client b (the queue's next slot is 1 s away): b keeps its token…
    expect(flow.entry('r', { now: 10, params: { ip: 'b' } })).toMatchObject({ pass: false, rule: 'paced' });
    // …and gets through once the queue has a slot, without waiting for a refill.
    expect(flow.entry('r', { now: 1_010, params: { ip: 'b' } }).pass).toBe(true);
  });
});

describe('rules as data', () => {
  it('fills defaults and refuses what cannot work', () => {
    const rules = parseFlowRules({ resources: { r: [{ kind: 'warm-up', count: 5, warmUpPeriodSec: 3 }] } });
    expect(rules.resources.r).toEqual([{ kind: 'warm-up', count: 5, warmUpPeriodSec: 3, coldFactor: 3 }]);
    expect(rules.window).toEqual({ sampleCount: 2, intervalMs: 1000 });
    expect(rules.system).toMatchObject({ bbr: true, maxInFlight: null });
    const bad = (r: unknown) => () => parseFlowRules({ resources: { r } });
    expect(
      bad([
        { kind: 'paced', count: 1, maxQueueingTimeMs: 10 },
        { kind: 'qps', count: 1 },
      ]),
    ).toThrow(/last/);
    expect(bad([{ kind: 'qps', count: -1 }])).toThrow();
    expect(bad([{ kind: 'warm-up', count: 1, warmUpPeriodSec: 1, coldFactor: 1 }])).toThrow();
    expect(bad([{ kind: 'nope' }])).toThrow();
  });

  it('a rule change keeps the state of rules that did not change', () => {
    const rules = (extra: Record<string, unknown>[]) =>
      parseFlowRules({
        resources: { r: [{ kind: 'paced', count: 1, maxQueueingTimeMs: 5_000 }, ...extra].reverse() },
      });
    const flow = new FlowControl(rules([]), { clock: () => 0 });
    expect(flow.entry('r', { now: 0 })).toMatchObject({ pass: true, waitMs: 0 });
    flow.setRules(rules([{ kind: 'concurrency', count: 100 }]));
    // The paced queue's tail survived: the next slot is still 1 s after the first.
    expect(flow.entry('r', { now: 0 })).toMatchObject({ pass: true, waitMs: 1000 });
    flow.setRules(parseFlowRules({}));
    expect(flow.entry('r', { now: 0 })).toMatchObject({ pass: true, waitMs: 0 });
  });
});
