/**
 * The adaptive rule (BBR on a resource's own figures, judged always) on a fake clock: given what
 * the window saw complete, when requests arrive at once, then so many are in flight before one is
 * shed — as overload (503), not as a client's budget (429).
 */
import { describe, expect, it } from 'vitest';
import { FlowControl, type Blocked, type Entry } from '../../platform/flow/flow-control.ts';
import { refusal } from '../../platform/flow/http.ts';
import { parseFlowRules } from '../../platform/flow/rules.ts';

const flowWith = (rule: Record<string, unknown>) =>
  new FlowControl(parseFlowRules({ resources: { r: [{ kind: 'adaptive', ...rule }] } }), { clock: () => 0 });

/** `n` requests at `now`, none released: how many passed, and the first refusal. */
function burst(flow: FlowControl, now: number, n: number) {
  const entries = Array.from({ length: n }, () => flow.entry('r', { now }));
  const admitted = entries.filter((e): e is Entry => e.pass);
  return { admitted, refused: entries.find((e): e is Blocked => !e.pass) };
}

/** 100 requests at t=0 (cold: all pass), all done at t=20: the window's best is 200/s at 20 ms. */
function warmed(rule: Record<string, unknown>): FlowControl {
  const flow = flowWith({ coldInFlight: 200, ...rule });
  for (const e of burst(flow, 0, 100).admitted) e.release({ now: 20 });
  return flow;
}

describe('adaptive rule (per-resource BBR)', () => {
  it('given a cold window, when 100 arrive at once, then coldInFlight pass and the rest are shed as overload', () => {
    const { admitted, refused } = burst(flowWith({ minInFlight: 8, coldInFlight: 64 }), 0, 100);
    expect(admitted).toHaveLength(64);
    expect(refused).toMatchObject({ rule: 'adaptive', system: true, retryAfterMs: 1000 });
    const problem = refusal(refused!);
    expect([problem.code, problem.headers?.['Retry-After']]).toEqual(['system_overloaded', '1']);
  });

  it('given 200/s at a 20 ms min RT in the window, then 4 in flight pass (200 × 0.020) and the 5th is shed', () => {
    const { admitted, refused } = burst(warmed({ minInFlight: 1, gain: 1 }), 30, 10);
    expect(admitted).toHaveLength(4);
    expect(refused?.system).toBe(true);
  });

  it('given the same window and the default gain of 3, then 12 pass (3 × 200 × 0.020)', () => {
    expect(burst(warmed({ minInFlight: 1 }), 30, 20).admitted).toHaveLength(12);
  });

  it('given the same window, minInFlight raises the floor above the estimate', () => {
    expect(burst(warmed({ minInFlight: 15 }), 30, 20).admitted).toHaveLength(15);
  });

  it('given a completion that leaves, then the next request passes again', () => {
    const flow = warmed({ minInFlight: 1, gain: 1 });
    const { admitted } = burst(flow, 30, 10);
    expect(flow.entry('r', { now: 31 }).pass).toBe(false);
    // Done after 20 ms: the estimate stays 4 (a quicker one would lower it), one place is free.
    admitted[0]!.release({ now: 50 });
    expect(flow.entry('r', { now: 51 }).pass).toBe(true);
  });

  it('given a quiet spell longer than the window, then the estimate is gone and a burst is cold again', () => {
    const flow = warmed({ minInFlight: 1, coldInFlight: 50 });
    expect(burst(flow, 2_000, 80).admitted).toHaveLength(50);
  });
});
