import { describe, expect, it } from 'vitest';
import {
  afterCheck,
  choose,
  HEALTHY,
  instance,
  ServicePool,
  type Health,
  type HealthPolicy,
  type Instance,
} from '../../gateway/balancer.ts';

const policy: HealthPolicy = { failuresToEject: 2, successesToReturn: 2 };
const run = (outcomes: ('ok' | 'failed' | 'passive')[], from: Health = HEALTHY) => {
  let health = from;
  return outcomes.map((o) => (health = afterCheck(health, o, policy)).healthy);
};
const pool = (...pending: number[]): Instance[] =>
  pending.map((p, i) => ({ ...instance(`http://i${i}`, 'v1', 'stable'), pending: p }));

describe('instance health', () => {
  it('given one failed probe, stays in rotation; the second in a row ejects it', () => {
    expect(run(['failed', 'ok', 'failed', 'failed'])).toEqual([true, true, true, false]);
  });

  it('given a refused connection, ejects at once', () => {
    expect(run(['passive'])).toEqual([false]);
  });

  it('given an ejected instance, brings it back after two good probes in a row (a failure restarts the count)', () => {
    expect(run(['passive', 'ok', 'failed', 'ok', 'ok'])).toEqual([false, false, false, false, true]);
  });
});

describe('choosing an instance', () => {
  it('given an idle pool, alternates round robin', () => {
    const p = new ServicePool('query-api', pool(0, 0, 0));
    expect(Array.from({ length: 6 }, () => p.next('stable')?.url)).toEqual([
      'http://i0',
      'http://i1',
      'http://i2',
      'http://i0',
      'http://i1',
      'http://i2',
    ]);
  });

  it('given pending requests, picks the instance with the fewest', () => {
    expect(choose(pool(3, 1, 2), 0)).toBe(1);
    expect(choose(pool(1, 1, 0), 0)).toBe(2);
  });

  it('given an ejected instance, skips it; given all ejected, routes to all (panic)', () => {
    const list = pool(0, 5);
    list[0]!.health = { healthy: false, streak: 0 };
    expect(choose(list, 0)).toBe(1);
    list[1]!.health = { healthy: false, streak: 0 };
    expect(choose(list, 0)).toBe(0);
    expect(choose([], 0)).toBeUndefined();
  });

  it('given a canary track with nothing healthy, serves it from the stable instances', () => {
    const canary = instance('http://canary', 'v2', 'canary');
    const p = new ServicePool('query-api', [instance('http://stable', 'v1', 'stable'), canary]);
    expect(p.next('canary')?.url).toBe('http://canary');
    canary.health = afterCheck(canary.health, 'passive');
    expect(p.next('canary')?.url).toBe('http://stable');
  });
});
