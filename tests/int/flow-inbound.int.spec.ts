/**
 * Inbound flow control on the real APIs (platform/flow/http.ts): a hot-parameter rule with an
 * exception on search, refused as 429 flow_limited problem+json that matches the OpenAPI document;
 * system protection refusing as 503 system_overloaded before authentication and body parsing; a
 * QPS rule answered before authentication; the counters on /metrics, fast-path hits included; paced
 * queueing through the middleware (the caller waits for its slot).
 */
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlowControl } from '../../platform/flow/flow-control.ts';
import { flowMiddleware } from '../../platform/flow/http.ts';
import { parseFlowRules } from '../../platform/flow/rules.ts';
import { problemMiddleware } from '../../platform/http/problem-middleware.ts';
import { boundPort, drain, listen } from '../../platform/http/server.ts';
import { createLogger } from '../../platform/logger.ts';
import {
  anOpenScheduleRequest,
  newKey,
  startCommandApi,
  type Harness,
} from '../support/command-api-harness.ts';
import { capture, conformance, type CapturedResponse } from '../support/openapi-conformance.ts';
import { startQueryInstance, type QueryInstance } from '../support/query-api-harness.ts';
import { testConfig } from '../support/test-config.ts';
import { uniqueName } from '../support/wait.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

const metric = (text: string, name: string, labels: string): number => {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line ? Number(line.split(' ').at(-1)) : 0;
};

describe('query API: a per-value search limit with an exception', () => {
  let query: QueryInstance;
  let doc: Json;

  beforeAll(async () => {
    const rules = parseFlowRules({
      resources: {
        'GET /v1/search/institutions': [
          {
            kind: 'hot-param',
            param: { from: 'query', name: 'city' },
            count: 1,
            durationSec: 60,
            burst: 1,
            exceptions: [{ value: 'vip', count: 4 }],
          },
        ],
      },
    });
    const names = {
      catalogPrefix: uniqueName('catalog:'),
      searchAlias: uniqueName('flow-missing'),
      readModelRoot: uniqueName('rm'),
    };
    query = await startQueryInstance(testConfig(), { ...names, flowRules: rules });
    doc = (await (await query.get('/openapi.json')).json()) as Json;
  }, 60_000);

  afterAll(async () => {
    await query?.close();
  });

  const search = (city: string) => query.get(`/v1/search/institutions?q=x&city=${city}`).then(capture);
  const statuses = async (city: string, n: number) => {
    const out: CapturedResponse[] = [];
    for (let i = 0; i < n; i++) out.push(await search(city));
    return out;
  };

  it('given 1 a minute + burst 1 per city and 4 + 1 for "vip", then each city gets its own budget and the excess is 429', async () => {
    // The index does not exist: an admitted search answers 503 dependency_unavailable, a refused one 429.
    const plain = await statuses('hangzhou', 4);
    const vip = await statuses('vip', 7);
    const other = await statuses('suzhou', 3);
    const codes = (rs: CapturedResponse[]) => rs.map((r) => (JSON.parse(r.text) as { code: string }).code);
    console.log(`[flow-inbound] hangzhou: ${codes(plain).join(', ')}; vip: ${codes(vip).join(', ')}`);
    expect(plain.map((r) => r.status)).toEqual([503, 503, 429, 429]);
    expect(vip.map((r) => r.status)).toEqual([503, 503, 503, 503, 503, 429, 429]);
    expect(other.map((r) => r.status)).toEqual([503, 503, 429]);

    const refused = plain[2]!;
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(refused.text)).toMatchObject({
      code: 'flow_limited',
      status: 429,
      type: '/problems/flow_limited',
    });
    // One token comes back every 60 s: Retry-After says so.
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(59);
    expect(refused.headers.get('ratelimit-limit')).toBe('1');
    conformance(doc).check('get', '/v1/search/institutions', refused);
  });

  it('counts passes and blocks per resource and rule on /metrics, cache hits of the fast path included', async () => {
    const city = encodeURIComponent(uniqueName('city'));
    const first = await query.get(`/v1/homepage?city=${city}`);
    const second = await query.get(`/v1/homepage?city=${city}`);
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(second.headers.get('x-cache')).toBe('l1-hit');
    const text = await (await query.adminGet('/metrics')).text();
    const search = 'resource="GET /v1/search/institutions"';
    expect(metric(text, 'flow_blocked_total', `${search},rule="hot-param"`)).toBe(5);
    expect(metric(text, 'flow_passed_total', `${search},path="checked"`)).toBe(9);
    expect(
      metric(text, 'flow_passed_total', 'resource="GET /v1/homepage",path="checked"'),
    ).toBeGreaterThanOrEqual(1);
    expect(
      metric(text, 'flow_passed_total', 'resource="GET /v1/homepage",path="fast"'),
    ).toBeGreaterThanOrEqual(1);
    expect(text).toContain('flow_event_loop_delay_milliseconds');
  });
});

describe('command API: system protection and rules run before authentication and body parsing', () => {
  let commands: Harness;
  let doc: Json;

  beforeAll(async () => {
    commands = await startCommandApi({
      flowRules: parseFlowRules({
        system: { maxInFlight: 1, maxEventLoopDelayMs: null },
        resources: { 'POST /v1/schedules/:scheduleId/close': [{ kind: 'qps', count: 1 }] },
      }),
    });
    doc = (await (await fetch(`${commands.baseUrl}/openapi.json`)).json()) as Json;
  }, 60_000);

  afterAll(async () => {
    commands.hooks.beforeCommit = undefined;
    await commands?.stop();
  });

  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${commands.baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
    }).then(capture);

  it('while one command is in flight (the cap is 1), a second is shed with 503 before its bad JSON or missing token matter', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    commands.hooks.beforeCommit = async () => {
      entered();
      await held;
    };
    const token = await commands.tokenFor(commands.hospital);
    const first = fetch(`${commands.baseUrl}/v1/schedules`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${token}`,
        'idempotency-key': newKey(),
      },
      body: JSON.stringify(anOpenScheduleRequest(commands.catalog)),
    });
    await inside;
    const shed = await post('/v1/appointments', '{"not json', {});
    expect(shed.status, shed.text).toBe(503);
    expect(JSON.parse(shed.text)).toMatchObject({ code: 'system_overloaded', status: 503 });
    expect(shed.headers.get('retry-after')).toBe('1');
    conformance(doc).check('post', '/v1/appointments', shed);
    release();
    commands.hooks.beforeCommit = undefined;
    // The held command completes.
    expect((await first).status).toBe(201);
    // With nothing in flight, the same bad request reaches authentication again.
    expect((await post('/v1/appointments', '{"not json')).status).toBe(401);
  });

  it('a QPS rule refuses with 429 before the token is looked at', async () => {
    const path = '/v1/schedules/s-1/close';
    const first = await post(path, '{}');
    const second = await post(path, '{}');
    expect(first.status).toBe(401);
    expect(second.status).toBe(429);
    expect(JSON.parse(second.text)).toMatchObject({ code: 'flow_limited' });
    conformance(doc).check('post', '/v1/schedules/{scheduleId}/close', second);
    const body = (await commands.admin.request('GET', '/metrics')).text;
    expect(
      metric(body, 'flow_blocked_total', 'resource="POST /v1/schedules/:scheduleId/close",rule="qps"'),
    ).toBe(1);
    expect(
      metric(body, 'flow_blocked_total', 'resource="POST /v1/appointments",rule="system-max-in-flight"'),
    ).toBe(1);
  });
});

describe('paced queueing over HTTP (an Express app with the middleware, no engines)', () => {
  // 2/s and 1,250 ms: the slots (0, 500, 1,000 ms) and the refusal line (1,500 > 1,250) sit 250 ms
  // apart, so requests that reach the server up to 250 ms apart on a loaded host (a CI run at load
  // average 13 spread them over 70 ms) still meet the same rule.
  it('given 2/s and a 1,250 ms maximum wait, when 5 arrive at once, then 3 are served about 500 ms apart and 2 refused at once', async () => {
    const flow = new FlowControl(
      parseFlowRules({ resources: { 'GET /paced': [{ kind: 'paced', count: 2, maxQueueingTimeMs: 1250 }] } }),
    );
    const app = express();
    app.use(flowMiddleware({ flow, routes: [{ method: 'get', path: '/paced' }] }));
    app.get('/paced', (_req, res) => void res.json({ at: performance.now() }));
    app.use(problemMiddleware(createLogger('paced-test', 'silent')));
    const server = await listen(app, 0, '127.0.0.1');
    try {
      const t0 = performance.now();
      const results = await Promise.all(
        Array.from({ length: 5 }, async () => {
          const res = await fetch(`http://127.0.0.1:${boundPort(server)}/paced`);
          return {
            status: res.status,
            after: performance.now() - t0,
            retryAfter: res.headers.get('retry-after'),
          };
        }),
      );
      const served = results
        .filter((r) => r.status === 200)
        .map((r) => r.after)
        .sort((a, b) => a - b);
      const refused = results.filter((r) => r.status === 429);
      console.log(
        `[flow-inbound] paced: served after ${served.map((t) => t.toFixed(0)).join(', ')} ms; refused after ${refused.map((r) => r.after.toFixed(0)).join(', ')} ms`,
      );
      expect(served).toHaveLength(3);
      expect(refused).toHaveLength(2);
      expect(served[2]! - served[0]!).toBeGreaterThanOrEqual(900);
      for (const r of refused) {
        expect(r.after).toBeLessThan(served[1]!);
        expect(r.retryAfter).toBe('1');
      }
      expect(flow.stat('GET /paced').totals.block.get('paced')).toBe(2);
    } finally {
      await drain(server, 500);
    }
  });
});
