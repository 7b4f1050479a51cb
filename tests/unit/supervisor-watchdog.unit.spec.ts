import { describe, expect, it } from 'vitest';
import { afterProbe, type Liveness, type WatchPolicy } from '../../supervisor/watchdog.ts';

const policy: WatchPolicy = { failuresBeforeRestart: 3, startupGraceMs: 60_000 };
const times = (n: number, live: Liveness): Liveness[] => Array.from({ length: n }, () => live);
const run = (lives: Liveness[], runningForMs = 120_000) => {
  let failures = 0;
  return lives.map((live) => {
    const next = afterProbe(failures, { live }, runningForMs, policy);
    failures = next.failures;
    return next.restart;
  });
};

describe('supervisor restart policy', () => {
  it('given a dependency outage (degraded), never restarts however long it lasts', () => {
    expect(run(times(50, 'degraded'))).not.toContain(true);
  });

  it('given a service that says it must be restarted, restarts on the third 503 in a row', () => {
    expect(run(['failing', 'failing', 'failing'])).toEqual([false, false, true]);
  });

  it('given a failure between good answers, starts counting again', () => {
    expect(run(['failing', 'failing', 'ok', 'failing', 'failing'])).not.toContain(true);
    expect(run(['failing', 'failing', 'degraded', 'failing', 'failing', 'failing'])).toEqual([
      false,
      false,
      false,
      false,
      false,
      true,
    ]);
  });

  it('given a process still starting, does not hold silence against it; after the grace it does', () => {
    expect(run(times(10, 'unreachable'), 10_000)).not.toContain(true);
    expect(run(['unreachable', 'unreachable', 'unreachable'], 61_000)).toEqual([false, false, true]);
  });

  it('given a 503 during start-up, counts it (the process answered: it is not merely starting)', () => {
    expect(run(['failing', 'failing', 'failing'], 1_000)).toEqual([false, false, true]);
  });
});
