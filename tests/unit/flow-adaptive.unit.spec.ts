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

describe('adaptive rule with a queue (maxQueueMs)', () => {
  /** A limit of 6 (the floor; the estimate is 200/s × 20 ms = 4), a queue of up to 20 ms: at 200/s, 4 wait (5 ms each) and the 5th is shed. */
  const queued = () => warmed({ minInFlight: 6, gain: 1, maxQueueMs: 20 });
  const settled = async (p: Promise<Blocked | undefined> | undefined) =>
    Promise.race([p, new Promise((r) => setTimeout(() => r('pending'), 10))]);

  it('given the limit reached, then 4 wait, the next one is shed at once, and none counts in flight', () => {
    const flow = queued();
    const { admitted } = burst(flow, 30, 6);
    const waiting = burst(flow, 31, 5);
    expect(waiting.admitted.slice(0, 4).map((e) => e.queued?.maxWaitMs)).toEqual([20, 20, 20, 20]);
    expect(waiting.refused).toMatchObject({ rule: 'adaptive', system: true, retryAfterMs: 1000 });
    expect([admitted.length, flow.stat('r').inFlight, flow.queued('r')]).toEqual([6, 6, 4]);
  });

  it('given two waiting, when one in flight finishes, then the first in line is admitted, the second still waits', async () => {
    const flow = queued();
    const { admitted } = burst(flow, 30, 6);
    const [first, second] = burst(flow, 31, 2).admitted;
    admitted[0]!.release({ now: 50 });
    expect(await settled(first!.queued?.admitted)).toBeUndefined();
    expect(await settled(second!.queued?.admitted)).toBe('pending');
    expect(flow.stat('r').inFlight).toBe(6);
    // Admitted at 50: its RT counts from there, not from its arrival.
    first!.release({ now: 55 });
    expect(flow.stat('r').snapshot(55).minRtMs).toBe(5);
  });

  it('given one waiting past its maxQueueMs, then expire refuses it as overload and it is counted as blocked', async () => {
    const flow = queued();
    burst(flow, 30, 6);
    const waiting = flow.entry('r', { now: 31 }) as Entry;
    waiting.queued!.expire();
    expect(await settled(waiting.queued!.admitted)).toMatchObject({ rule: 'adaptive', system: true });
    expect(flow.stat('r').totals.block.get('adaptive')).toBe(1);
  });

  it('given one waiting whose client left (released), then it leaves the queue and the next in line takes the room', async () => {
    const flow = queued();
    const { admitted } = burst(flow, 30, 6);
    const [gone, next] = burst(flow, 31, 2).admitted;
    gone!.release({ now: 32 });
    admitted[0]!.release({ now: 50 });
    expect(await settled(gone!.queued?.admitted)).toBe('pending');
    expect(await settled(next!.queued?.admitted)).toBeUndefined();
  });

  it('given maxQueueMs 0 (the default), then the request past the limit is shed at once, as before', () => {
    const { admitted, refused } = burst(warmed({ minInFlight: 1, gain: 1 }), 30, 5);
    expect(admitted.every((e) => e.queued === undefined)).toBe(true);
    expect(refused).toBeDefined();
  });
});
