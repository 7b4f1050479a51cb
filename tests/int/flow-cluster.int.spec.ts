/**
 * Cluster-wide budgets (rule kind cluster-qps, platform/flow/cluster.ts) on two command API
 * instances sharing a Redis of the test's own: the budget holds across both; with that Redis
 * killed each instance falls back to its local share (count / instances).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterBudgets } from '../../platform/flow/cluster.ts';
import { defaultFlowRules } from '../../platform/flow/default-rules.ts';
import { FlowRuleStore } from '../../platform/flow/rule-store.ts';
import { parseFlowRules } from '../../platform/flow/rules.ts';
import { createRedis } from '../../platform/redis.ts';
import { startCommandApi, type Harness } from '../support/command-api-harness.ts';
import { startPrivateRedis, type PrivateRedis } from '../support/private-redis.ts';
import { uniqueName } from '../support/wait.ts';

let privateRedis: PrivateRedis;
let redis: ReturnType<typeof createRedis>;
let a: Harness;
let b: Harness;
let budgets: [ClusterBudgets, ClusterBudgets];

// 10 audit reads a minute across the cluster; 5 per instance while Redis is away.
const rules = parseFlowRules({
  ...defaultFlowRules(),
  resources: { 'GET /v1/audit': [{ kind: 'cluster-qps', count: 10, durationSec: 60, instances: 2 }] },
});

beforeAll(async () => {
  privateRedis = await startPrivateRedis();
  // As the APIs build theirs: no offline queue, a short command timeout.
  redis = createRedis({ REDIS_URL: privateRedis.url }, 'flow-cluster-test', {
    enableOfflineQueue: false,
    commandTimeout: 100,
  });
  await new Promise((r) => (redis.status === 'ready' ? r(undefined) : redis.once('ready', r)));
  const prefix = `${uniqueName('budget')}:`;
  budgets = [new ClusterBudgets(redis, prefix), new ClusterBudgets(redis, prefix)];
  const store = new FlowRuleStore(redis, uniqueName('flow:rules'), defaultFlowRules);
  a = await startCommandApi({ flowRules: rules, flowRuleStore: store, flowClusterBudgets: budgets[0] });
  b = await startCommandApi({ flowRules: rules, flowRuleStore: store, flowClusterBudgets: budgets[1] });
}, 60_000);

afterAll(async () => {
  redis?.disconnect();
  await a?.stop();
  await b?.stop();
  await privateRedis?.kill();
});

async function statuses(h: Harness, n: number): Promise<number[]> {
  const token = await h.tokenFor({ sub: 'admin-cluster', role: 'admin' });
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await h.http.get('/v1/audit', { token })).status);
  return out;
}
const count = (xs: number[], s: number) => xs.filter((x) => x === s).length;

describe('a cluster-wide budget', () => {
  it('holds across two instances (10 a minute in all, not 10 each)', async () => {
    const fromA = await statuses(a, 7);
    const fromB = await statuses(b, 7);
    console.log(`cluster budget 10/min: A ${count(fromA, 200)} admitted, B ${count(fromB, 200)} admitted`);
    expect(count(fromA, 200)).toBe(7);
    expect(count(fromB, 200)).toBe(3);
    expect(count(fromB, 429)).toBe(4);
    const refused = await b.http.get('/v1/audit', {
      token: await b.tokenFor({ sub: 'admin-cluster', role: 'admin' }),
    });
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ code: 'flow_limited' });
    expect(refused.headers['ratelimit-limit']).toBe('10');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(budgets[0].fallbacks + budgets[1].fallbacks).toBe(0);
  });

  it('falls back to each instance’s local share (count / instances) with Redis down', async () => {
    await privateRedis.kill();
    await new Promise((r) => setTimeout(r, 200));
    const fromA = await statuses(a, 8);
    const fromB = await statuses(b, 8);
    console.log(
      `Redis down, local share 5: A ${count(fromA, 200)} admitted, B ${count(fromB, 200)} admitted`,
    );
    expect(count(fromA, 200)).toBe(5);
    expect(count(fromB, 200)).toBe(5);
    expect(count(fromA, 429) + count(fromB, 429)).toBe(6);
    expect(budgets[0].fallbacks).toBeGreaterThanOrEqual(8);
    expect(budgets[1].fallbacks).toBeGreaterThanOrEqual(8);
    // Back (an empty Redis): the budget counts there again, not in the local share.
    await privateRedis.start();
    await new Promise((r) => (redis.status === 'ready' ? r(undefined) : redis.once('ready', r)));
    const before = budgets[0].fallbacks;
    expect(count(await statuses(a, 3), 200)).toBe(3);
    expect(budgets[0].fallbacks).toBe(before);
  });
});
