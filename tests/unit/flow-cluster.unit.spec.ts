/**
 * cluster-qps rules in FlowControl without Redis: the local share decides, a refusal undoes the
 * admission (not passed, not in flight, counted as a block) and gives back what earlier rules took.
 */
import { describe, expect, it } from 'vitest';
import { FlowControl, type Blocked, type Entry } from '../../platform/flow/flow-control.ts';
import { localShare } from '../../platform/flow/cluster.ts';
import { parseFlowRules, type ClusterQpsRule } from '../../platform/flow/rules.ts';

const rules = parseFlowRules({
  resources: {
    r: [
      { kind: 'hot-param', param: { from: 'ip' }, count: 100, durationSec: 60 },
      { kind: 'cluster-qps', count: 4, durationSec: 60, instances: 2 },
    ],
  },
});

describe('cluster-qps', () => {
  it('has a local share of count / instances, rounded up, at least 1', () => {
    const rule = (count: number, instances: number) => ({ count, instances }) as ClusterQpsRule;
    expect(localShare(rule(10, 3))).toBe(4);
    expect(localShare(rule(1, 5))).toBe(1);
  });

  it('without Redis admits the local share and undoes a refused admission', async () => {
    let now = 1_000;
    const flow = new FlowControl(rules, { clock: () => now });
    const verdicts: (Blocked | undefined)[] = [];
    for (let i = 0; i < 3; i++) {
      const e = flow.entry('r', { params: { ip: '1.2.3.4' } }) as Entry;
      expect(e.pass).toBe(true);
      expect(e.cluster).toBeDefined();
      verdicts.push(await e.cluster);
      now += 1;
    }
    expect(verdicts.slice(0, 2)).toEqual([undefined, undefined]);
    expect(verdicts[2]).toMatchObject({ pass: false, rule: 'cluster-qps', system: false, limit: 4 });
    const stat = flow.stat('r');
    expect(stat.totals.pass).toBe(2);
    expect(stat.inFlight).toBe(2);
    expect(stat.totals.block.get('cluster-qps')).toBe(1);
  });
});
