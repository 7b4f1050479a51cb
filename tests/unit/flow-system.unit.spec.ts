/**
 * Adaptive system protection (platform/flow/system.ts through FlowControl): BBR while the event
 * loop lags, a delay ceiling and an in-flight ceiling, all on injected signals and a fake clock.
 */
import { describe, expect, it } from 'vitest';
import { FlowControl, type Entry } from '../../platform/flow/flow-control.ts';
import { parseFlowRules } from '../../platform/flow/rules.ts';

interface Signals {
  eventLoopDelayMs: number;
  sustainedEventLoopDelayMs?: number;
  eventLoopUtilization?: number;
  queuedOutbound?: number;
}

function system(rule: Record<string, unknown>) {
  const signals: Signals = { eventLoopDelayMs: 0 };
  const flow = new FlowControl(parseFlowRules({ system: rule }), { clock: () => 0, signals: () => signals });
  return { flow, signals };
}

describe('system protection', () => {
  it('given BBR, when the loop lags, then it admits while in flight ≤ max success QPS × min RT', () => {
    const { flow, signals } = system({
      bbr: true,
      bbrTriggerDelayMs: 50,
      bbrMinInFlight: 2,
      maxEventLoopDelayMs: null,
    });
    // Learn the capacity: ~100 requests completed in one 500 ms bucket at 20 ms each → ~200/s × 20 ms ≈ 4.
    for (let i = 0; i < 100; i++) (flow.entry('a', { inbound: true, now: 0 }) as Entry).release({ now: 20 });
    const held: Entry[] = [];
    for (let i = 0; i < 10; i++) {
      const e = flow.entry('a', { inbound: true, now: 100 });
      if (e.pass) held.push(e);
    }
    expect(held).toHaveLength(10); // no lag: BBR does not apply
    for (const e of held.splice(5)) e.release({ now: 120 }); // RT 20 ms, as learnt
    signals.eventLoopDelayMs = 80;
    const refused = flow.entry('a', { inbound: true, now: 120 });
    expect(refused).toMatchObject({ pass: false, rule: 'system-bbr', system: true, retryAfterMs: 1000 });
    held.pop()!.release({ now: 120 });
    expect(flow.entry('a', { inbound: true, now: 120 }).pass).toBe(true); // 4 in flight ≤ 212/s × 20 ms
    expect(flow.entry('a', { inbound: true, now: 120 }).pass).toBe(false);
    // Outbound entries are not the system's to shed.
    expect(flow.entry('pg', { now: 120 }).pass).toBe(true);
    expect(flow.stat('a').totals.block.get('system-bbr')).toBe(2);
  });

  it.each([
    {
      trigger: 'calls wait for the dependency (queue trigger)',
      rule: { bbrTriggerQueued: 5 },
      // Below the trigger: the loop is quick and the queue short.
      below: (s: Signals): void => void (s.queuedOutbound = 4),
      above: (s: Signals): void => void (s.queuedOutbound = 5),
      // A process that does not measure it: only the loop triggers.
      unmeasured: (s: Signals): void => void delete s.queuedOutbound,
    },
    {
      trigger: 'the loop is busy without lagging (utilization trigger)',
      rule: { bbrTriggerUtilization: 0.9 },
      below: (s: Signals): void => void (s.eventLoopUtilization = 0.89),
      above: (s: Signals): void => void (s.eventLoopUtilization = 0.95),
      unmeasured: (s: Signals): void => void delete s.eventLoopUtilization,
    },
  ])(
    'given BBR, when $trigger, then it sheds beyond the learnt capacity',
    ({ rule, below, above, unmeasured }) => {
      const { flow, signals } = system({
        bbrTriggerDelayMs: 1000,
        bbrMinInFlight: 2,
        maxEventLoopDelayMs: null,
        ...rule,
      });
      for (let i = 0; i < 100; i++)
        (flow.entry('a', { inbound: true, now: 0 }) as Entry).release({ now: 20 });
      const held = [0, 1, 2, 3, 4].map(() => flow.entry('a', { inbound: true, now: 100 }));
      expect(held.every((e) => e.pass)).toBe(true);
      below(signals);
      expect(flow.entry('a', { inbound: true, now: 100 }).pass).toBe(true);
      above(signals);
      expect(flow.entry('a', { inbound: true, now: 100 })).toMatchObject({ pass: false, rule: 'system-bbr' });
      unmeasured(signals);
      expect(flow.entry('a', { inbound: true, now: 100 }).pass).toBe(true);
    },
  );

  it('given no utilization trigger (null, the schema default), a saturated loop alone never engages BBR', () => {
    const { flow, signals } = system({
      bbrTriggerDelayMs: 1000,
      bbrMinInFlight: 1,
      maxEventLoopDelayMs: null,
    });
    signals.eventLoopUtilization = 1;
    const results = [0, 1, 2].map(() => flow.entry('a', { inbound: true, now: 0 }).pass);
    expect(results).toEqual([true, true, true]);
  });

  it('given no queue trigger (null), a long dependency queue alone never engages BBR', () => {
    const { flow, signals } = system({
      bbrTriggerDelayMs: 1000,
      bbrMinInFlight: 1,
      maxEventLoopDelayMs: null,
    });
    signals.queuedOutbound = 10_000;
    const results = [0, 1, 2].map(() => flow.entry('a', { inbound: true, now: 0 }).pass);
    expect(results).toEqual([true, true, true]);
  });

  it('below bbrMinInFlight, BBR admits even when nothing has completed yet', () => {
    const { flow, signals } = system({ bbrTriggerDelayMs: 0, bbrMinInFlight: 3, maxEventLoopDelayMs: null });
    signals.eventLoopDelayMs = 200;
    const results = [0, 1, 2, 3].map(() => flow.entry('a', { inbound: true, now: 0 }).pass);
    expect(results).toEqual([true, true, true, false]);
  });

  it('sheds every inbound request while the loop lags beyond the ceiling, and caps the process in flight', () => {
    const { flow, signals } = system({ bbr: false, maxEventLoopDelayMs: 300, maxInFlight: 2 });
    signals.eventLoopDelayMs = 301;
    expect(flow.entry('a', { inbound: true, now: 0 })).toMatchObject({
      pass: false,
      rule: 'system-event-loop',
    });
    signals.eventLoopDelayMs = 10;
    expect(flow.entry('a', { inbound: true, now: 0 }).pass).toBe(true);
    expect(flow.entry('b', { inbound: true, now: 0 }).pass).toBe(true);
    expect(flow.entry('c', { inbound: true, now: 0 })).toMatchObject({
      pass: false,
      rule: 'system-max-in-flight',
    });
    expect(flow.inbound.inFlight).toBe(2);
  });

  it('given a measured sustained delay, when one window stalls past the ceiling, then the ceiling waits for a second one', () => {
    const { flow, signals } = system({ bbr: false, maxEventLoopDelayMs: 300 });
    // One stalled window after a calm one: the last window's delay is high, the sustained one is not.
    signals.eventLoopDelayMs = 900;
    signals.sustainedEventLoopDelayMs = 12;
    expect(flow.entry('a', { inbound: true, now: 0 }).pass).toBe(true);
    // Two stalled windows in a row.
    signals.sustainedEventLoopDelayMs = 450;
    expect(flow.entry('a', { inbound: true, now: 0 })).toMatchObject({
      pass: false,
      rule: 'system-event-loop',
    });
  });
});
