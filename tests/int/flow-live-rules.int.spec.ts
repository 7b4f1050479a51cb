/**
 * Live flow rules (platform/flow/rule-store.ts, command-api/flow-admin-route.ts): two command API
 * instances on the same Redis key; a PUT on one reaches the other within 2 s (its rule refuses
 * from then on); optimistic concurrency (409), validation naming the field (422), admins only
 * (403); GET /v1/admin/flow shows the resource's figures and rules. Responses match the OpenAPI
 * document.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultFlowRules } from '../../platform/flow/default-rules.ts';
import { FlowRuleStore } from '../../platform/flow/rule-store.ts';
import { startCommandApi, type Harness } from '../support/command-api-harness.ts';
import type { HttpResponse } from '../support/http-client.ts';
import { conformance } from '../support/openapi-conformance.ts';
import { testConfig } from '../support/test-config.ts';
import { uniqueName } from '../support/wait.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

const config = testConfig();
const key = uniqueName('flow:rules');
let redis: Redis;
let a: Harness;
let b: Harness;
let adminA: string;
let adminB: string;
let check: ReturnType<typeof conformance>['check'];

const asCaptured = (res: HttpResponse) => ({
  status: res.status,
  headers: new Headers(
    Object.entries(res.headers).flatMap(([k, v]) =>
      v === undefined ? [] : (Array.isArray(v) ? v : [v]).map((x): [string, string] => [k, x]),
    ),
  ),
  text: res.text,
});

beforeAll(async () => {
  redis = new Redis(config.REDIS_URL);
  const store = () => new FlowRuleStore(redis, key, defaultFlowRules);
  a = await startCommandApi({ flowRuleStore: store() });
  b = await startCommandApi({ flowRuleStore: store() });
  adminA = await a.tokenFor({ sub: 'admin-a', role: 'admin' });
  adminB = await b.tokenFor({ sub: 'admin-b', role: 'admin' });
  const doc = (await a.http.get('/openapi.json')).body as Json;
  check = conformance(doc).check;
}, 60_000);

afterAll(async () => {
  await redis?.del(key);
  redis?.disconnect();
  await a?.stop();
  await b?.stop();
});

const rulesOf = (res: HttpResponse) => res.body as { version: number; source: string; rules: Json };

describe('flow rules changed live', () => {
  it('start as the file default at version 0', async () => {
    const res = await a.http.get('/v1/admin/flow-rules', { token: adminA });
    expect(res.status, res.text).toBe(200);
    check('get', '/v1/admin/flow-rules', asCaptured(res));
    expect(rulesOf(res)).toMatchObject({ version: 0, source: 'default' });
    expect(rulesOf(res).rules.resources['POST /v1/appointments']).toBeDefined();
  });

  it('are for admins only', async () => {
    const hospital = await a.tokenFor(a.hospital);
    const res = await a.http.get('/v1/admin/flow-rules', { token: hospital });
    expect(res.status).toBe(403);
    check('get', '/v1/admin/flow-rules', asCaptured(res));
  });

  it('refuse an invalid document with 422 naming the field', async () => {
    const bad = { version: 0, rules: { resources: { 'GET /v1/audit': [{ kind: 'qps', count: -1 }] } } };
    const res = await a.http.request('PUT', '/v1/admin/flow-rules', { token: adminA, body: bad });
    expect(res.status, res.text).toBe(422);
    check('put', '/v1/admin/flow-rules', asCaptured(res));
    expect(res.body.code).toBe('flow_rules_invalid');
    const invalid = (res.body as { 'invalid-params': { name: string }[] })['invalid-params'];
    expect(invalid.map((p) => p.name)).toContain('rules.resources.GET /v1/audit.0.count');
    const paced = {
      version: 0,
      rules: {
        resources: {
          'GET /v1/audit': [
            { kind: 'paced', count: 1, maxQueueingTimeMs: 10 },
            { kind: 'qps', count: 1 },
          ],
        },
      },
    };
    const notLast = await a.http.request('PUT', '/v1/admin/flow-rules', { token: adminA, body: paced });
    expect(notLast.status).toBe(422);
    expect(notLast.body.detail).toContain('rules.resources.GET /v1/audit');
  });

  it('a PUT on one instance reaches the other within 2 s, and a stale version is refused', async () => {
    const before = rulesOf(await b.http.get('/v1/admin/flow-rules', { token: adminB }));
    expect(before.version).toBe(0);
    // Not refused by the defaults: ten audit reads pass on B.
    for (let i = 0; i < 10; i++) expect((await b.http.get('/v1/audit', { token: adminB })).status).toBe(200);

    const rules = { ...defaultFlowRules(), resources: { 'GET /v1/audit': [{ kind: 'qps', count: 2 }] } };
    const put = await a.http.request('PUT', '/v1/admin/flow-rules', {
      token: adminA,
      body: { version: 0, rules },
    });
    const putAt = performance.now();
    expect(put.status, put.text).toBe(200);
    check('put', '/v1/admin/flow-rules', asCaptured(put));
    expect(rulesOf(put)).toMatchObject({ version: 1, source: 'redis' });
    // The instance that took the PUT applies it at once.
    expect(rulesOf(await a.http.get('/v1/admin/flow-rules', { token: adminA })).version).toBe(1);

    let seenAfterMs = Number.NaN;
    while (performance.now() - putAt < 2_000) {
      const now = rulesOf(await b.http.get('/v1/admin/flow-rules', { token: adminB }));
      if (now.version === 1) {
        seenAfterMs = performance.now() - putAt;
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    console.log(`rule change seen by the second instance after ${seenAfterMs.toFixed(0)} ms`);
    expect(seenAfterMs).toBeLessThan(2_000);
    // …and enforces it: at most 2 audit reads a second now.
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await b.http.get('/v1/audit', { token: adminB })).status);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(3);

    const stale = await b.http.request('PUT', '/v1/admin/flow-rules', {
      token: adminB,
      body: { version: 0, rules: defaultFlowRules() },
    });
    expect(stale.status, stale.text).toBe(409);
    check('put', '/v1/admin/flow-rules', asCaptured(stale));
    expect(stale.body.code).toBe('flow_rules_version_conflict');

    // Back to the default through the API (version 1 → 2), seen by A too.
    const back = await b.http.request('PUT', '/v1/admin/flow-rules', {
      token: adminB,
      body: { version: 1, rules: defaultFlowRules() },
    });
    expect(back.status).toBe(200);
    expect(rulesOf(back).version).toBe(2);
  });

  it('GET /v1/admin/flow shows every resource with its figures and rules', async () => {
    await b.http.get('/v1/audit', { token: adminB });
    const res = await b.http.get('/v1/admin/flow', { token: adminB });
    expect(res.status, res.text).toBe(200);
    check('get', '/v1/admin/flow', asCaptured(res));
    const audit = (res.body.resources as Json[]).find((r) => r.name === 'GET /v1/audit');
    expect(audit?.passed).toBeGreaterThan(0);
    expect(audit?.blocked.qps).toBeGreaterThanOrEqual(3);
    expect(res.body.rules.version).toBeGreaterThanOrEqual(1);
  });
});
