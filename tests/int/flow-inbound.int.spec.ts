/**
 * Inbound flow control on the real APIs (platform/flow/gate.ts): a hot-parameter rule with an
 * exception on search, refused as 429 flow_limited problem+json that matches the OpenAPI document;
 * system protection refusing as 503 system_overloaded before authentication and body parsing; a
 * QPS rule answered before authentication; the counters on /metrics, fast-path hits included; on
 * the command API, a warm-up rule climbing its slope, a per-route concurrency rule, and paced
 * queueing with a maximum wait (the caller waits for its slot, one past the maximum is refused),
 * and an adaptive limit's queue (held commands make the next ones wait in line, or shed them once
 * their wait runs out).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseFlowRules } from '../../platform/flow/rules.ts';
import {
  anOpenScheduleRequest,
  newKey,
  startCommandApi,
  type Harness,
} from '../support/command-api-harness.ts';
import { capture, conformance, type CapturedResponse } from '../support/openapi-conformance.ts';
import { startQueryInstance, type QueryInstance } from '../support/query-api-harness.ts';
import { testConfig } from '../support/test-config.ts';
import { uniqueName, waitFor } from '../support/wait.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

const metric = (text: string, name: string, labels: string): number => {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line ? Number(line.split(' ').at(-1)) : 0;
};

/** A real command: open a schedule of the harness's catalog, as its hospital. */
const openSchedule = (commands: Harness, token: string) =>
  fetch(`${commands.baseUrl}/v1/schedules`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${token}`,
      'idempotency-key': newKey(),
    },
    body: JSON.stringify(anOpenScheduleRequest(commands.catalog)),
  });

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
    const first = openSchedule(commands, token);
    await inside;
    const shed = await post('/v1/appointments', '{"not json', {});
    expect(shed.status, shed.text).toBe(503);
    expect(JSON.parse(shed.text)).toMatchObject({ code: 'system_overloaded', status: 503 });
    expect(shed.headers.get('retry-after')).toBe('1');
    conformance(doc).check('post', '/v1/appointments', shed);
    // Refused on the raw request (platform/flow/gate.ts): never traced, so no trace id to quote.
    expect(shed.headers.get('x-trace-id')).toBeNull();
    // Health and the documentation are the service's own: never shed, even now.
    expect((await fetch(`${commands.baseUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${commands.baseUrl}/openapi.json`)).status).toBe(200);
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
    // Refusals are answers like any other in the request-duration histogram.
    expect(
      metric(
        body,
        'http_request_duration_seconds_count',
        'method="POST",route="/v1/schedules/:scheduleId/close",status_code="429"',
      ),
    ).toBe(1);
  });
});

describe('command API: warm-up, concurrency and paced rules on real routes', () => {
  const WARM_UP = 'POST /v1/appointments/:appointmentId/cancel';
  const CONCURRENCY = 'POST /v1/schedules';
  const PACED = 'POST /v1/appointments/:appointmentId/confirm-payment';
  let commands: Harness;
  let doc: Json;

  beforeAll(async () => {
    commands = await startCommandApi({
      flowRules: parseFlowRules({
        // System protection off: these tests hold requests in flight on purpose, and only the
        // route's own rule is to answer (a lagging event loop on a loaded host must not shed them).
        system: { maxInFlight: null, bbr: false, maxEventLoopDelayMs: null },
        resources: {
          // 12/s, cold at 12/3: warningToken 6, maxToken 12 (Sentinel's formulas, controllers.ts).
          [WARM_UP]: [{ kind: 'warm-up', count: 12, warmUpPeriodSec: 1, coldFactor: 3 }],
          [CONCURRENCY]: [{ kind: 'concurrency', count: 3 }],
          // 2/s and 1,250 ms: the slots (0, 500, 1,000 ms) and the refusal line (1,500 > 1,250) sit
          // 250 ms apart, so requests that reach the server up to 250 ms apart on a loaded host (a
          // CI run at load average 13 spread them over 70 ms) still meet the same rule.
          [PACED]: [{ kind: 'paced', count: 2, maxQueueingTimeMs: 1250 }],
        },
      }),
    });
    doc = (await (await fetch(`${commands.baseUrl}/openapi.json`)).json()) as Json;
  }, 60_000);

  afterAll(async () => {
    commands.hooks.beforeCommit = undefined;
    await commands?.stop();
  });

  // Unauthenticated: an admitted request is answered 401 by authentication, a refused one 429 by
  // the rule, which runs first; so the rule's decisions are counted without touching PostgreSQL.
  const post = (path: string) =>
    fetch(`${commands.baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    }).then(capture);

  const expectFlowLimited = (refused: CapturedResponse, limit: number) => {
    expect(refused.status, refused.text).toBe(429);
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(refused.text)).toMatchObject({ code: 'flow_limited', status: 429 });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(refused.headers.get('ratelimit-limit')).toBe(String(limit));
  };

  /** Sleeps into the next whole second of the flow clock (performance.now, this process's). */
  const intoNextSecond = () => new Promise((r) => setTimeout(r, 1000 - (performance.now() % 1000) + 20));

  it('given 12/s warming up over 1 s from a third, when 20 arrive in each of three seconds, then 4, 7 and 12 are admitted: cold, it refuses more', async () => {
    const path = '/v1/appointments/a-1/cancel';
    const admitted: number[] = [];
    const limits: number[] = [];
    for (let second = 0; second < 3; second++) {
      await intoNextSecond();
      const startedAt = performance.now();
      const burst: CapturedResponse[] = [];
      for (let i = 0; i < 20; i++) burst.push(await post(path));
      const took = performance.now() - startedAt;
      // Each burst must sit inside one second of the rule's clock, or the figures mean nothing.
      expect(took, 'burst too slow for this host').toBeLessThan(900);
      expect(burst.every((r) => r.status === 401 || r.status === 429)).toBe(true);
      admitted.push(burst.filter((r) => r.status === 401).length);
      const refused = burst.find((r) => r.status === 429)!;
      limits.push(Number(refused.headers.get('ratelimit-limit')));
      conformance(doc).check('post', '/v1/appointments/{appointmentId}/cancel', refused);
    }
    console.log(`[flow-inbound] warm-up: admitted ${admitted.join(', ')} of 20 a second`);
    // Cold: count / coldFactor; the previous second's passes drain the stored tokens, so the
    // threshold climbs the slope (7) and, below the warning line, reaches the full count.
    expect(admitted).toEqual([4, 7, 12]);
    expect(limits).toEqual([4, 7, 12]);
    expect(commands.api.flow.stat(WARM_UP).totals.block.get('warm-up')).toBe(16 + 13 + 8);
  });

  /**
   * Real commands (`open`) whose admitted ones each wait before their commit until `release`: the
   * seam of the system-protection test above.
   */
  async function holdingCommits() {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let inside = 0;
    commands.hooks.beforeCommit = async () => {
      inside += 1;
      await held;
    };
    const token = await commands.tokenFor(commands.hospital);
    return {
      open: () => openSchedule(commands, token).then(capture),
      inside: () => inside,
      release: () => {
        release();
        commands.hooks.beforeCommit = undefined;
      },
    };
  }

  it('given at most 3 in flight, when 7 slow commands arrive together, then exactly 3 are admitted and 4 refused at once with 429', async () => {
    const { open, inside, release } = await holdingCommits();
    const all = Array.from({ length: 7 }, open);
    const refused: CapturedResponse[] = [];
    for (const p of all) void p.then((r) => r.status === 429 && refused.push(r));
    try {
      await waitFor(() => (inside() === 3 && refused.length === 4 ? true : undefined), {
        timeoutMs: 4_000,
        intervalMs: 10,
        what: '3 commands held and 4 refused',
      });
      expect(commands.api.flow.stat(CONCURRENCY).inFlight).toBe(3);
    } finally {
      release();
    }
    const statuses = (await Promise.all(all)).map((r) => r.status);
    expect(statuses.sort()).toEqual([201, 201, 201, 429, 429, 429, 429]);
    expect(inside()).toBe(3);
    for (const r of refused) expectFlowLimited(r, 3);
    expect(refused[0]!.headers.get('retry-after')).toBe('1');
    conformance(doc).check('post', '/v1/schedules', refused[0]!);
    // Their completion frees the slots.
    expect(commands.api.flow.stat(CONCURRENCY).inFlight).toBe(0);
    expect((await open()).status).toBe(201);
  });

  describe('an adaptive limit with a queue (maxQueueMs)', () => {
    const rulesWithQueue = (maxQueueMs: number) =>
      parseFlowRules({
        ...commands.api.flow.currentRules,
        // Two 10 s buckets: the warming answers stay in the window however slowly a loaded host
        // holds the two commands (the queue needs the window's completion rate to admit a wait).
        window: { sampleCount: 2, intervalMs: 20_000 },
        resources: {
          ...commands.api.flow.currentRules.resources,
          // A floor of 2 in flight governs (gain 1 on a few quick 401s estimates far less).
          [CONCURRENCY]: [{ kind: 'adaptive', minInFlight: 2, coldInFlight: 2, gain: 1, maxQueueMs }],
        },
      });

    /** Two commands held before their commit, the route's window warmed by quick 401s first. */
    async function holdTwo(maxQueueMs: number) {
      const before = commands.api.flow.currentRules;
      commands.api.flow.setRules(rulesWithQueue(maxQueueMs));
      // 60 quick answers in one bucket: 6 completed a second, so one waiter expects about 170 ms.
      for (let i = 0; i < 60; i++) expect((await post('/v1/schedules')).status).toBe(401);
      const { open, inside, release } = await holdingCommits();
      const first = [open(), open()];
      await waitFor(() => (inside() === 2 ? true : undefined), { timeoutMs: 4_000, what: '2 commands held' });
      const done = () => {
        release();
        commands.api.flow.setRules(before);
      };
      return { first, open, inside, done };
    }

    it('given 2 in flight, when 3 more arrive, then they wait in line instead of being shed, and all 5 are booked once the 2 finish', async () => {
      const h = await holdTwo(5_000);
      try {
        const waiting = [h.open(), h.open(), h.open()];
        await waitFor(() => (commands.api.flow.queued(CONCURRENCY) === 3 ? true : undefined), {
          timeoutMs: 4_000,
          what: '3 waiting in the queue',
        });
        expect(h.inside()).toBe(2);
        const metrics = (await commands.admin.request('GET', '/metrics')).text;
        expect(metric(metrics, 'flow_queued', `resource="${CONCURRENCY}"`)).toBe(3);
        h.done();
        const statuses = (await Promise.all([...h.first, ...waiting])).map((r) => r.status);
        expect(statuses).toEqual([201, 201, 201, 201, 201]);
        expect(commands.api.flow.queued(CONCURRENCY)).toBe(0);
      } finally {
        h.done();
      }
    });

    it('given 2 in flight that do not finish, when one more waits past maxQueueMs, then it is shed with 503 system_overloaded', async () => {
      const h = await holdTwo(300);
      try {
        const t0 = performance.now();
        const late = await h.open();
        const waited = performance.now() - t0;
        console.log(`[flow-inbound] queue: shed after ${waited.toFixed(0)} ms (maxQueueMs 300)`);
        expect(late.status, late.text).toBe(503);
        expect(JSON.parse(late.text)).toMatchObject({ code: 'system_overloaded', status: 503 });
        expect(late.headers.get('retry-after')).toBe('1');
        expect(waited).toBeGreaterThanOrEqual(290);
        expect(h.inside()).toBe(2);
        conformance(doc).check('post', '/v1/schedules', late);
      } finally {
        h.done();
      }
      expect((await Promise.all(h.first)).map((r) => r.status)).toEqual([201, 201]);
    });
  });

  it('given 2/s and a 1,250 ms maximum wait, when 5 arrive at once, then 3 leave about 500 ms apart and 2 are refused at once', async () => {
    const path = '/v1/appointments/a-1/confirm-payment';
    const t0 = performance.now();
    const results = await Promise.all(
      Array.from({ length: 5 }, async () => {
        const res = await post(path);
        return { res, after: performance.now() - t0 };
      }),
    );
    const served = results
      .filter((r) => r.res.status === 401)
      .map((r) => r.after)
      .sort((a, b) => a - b);
    const refused = results.filter((r) => r.res.status === 429);
    console.log(
      `[flow-inbound] paced: served after ${served.map((t) => t.toFixed(0)).join(', ')} ms; refused after ${refused.map((r) => r.after.toFixed(0)).join(', ')} ms`,
    );
    expect(served).toHaveLength(3);
    expect(refused).toHaveLength(2);
    // A steady interval: each leaves one slot (500 ms, less the arrivals' spread) after the last.
    expect(served[1]! - served[0]!).toBeGreaterThanOrEqual(400);
    expect(served[2]! - served[1]!).toBeGreaterThanOrEqual(400);
    for (const r of refused) {
      // Refused at once, not after waiting: before the second slot.
      expect(r.after).toBeLessThan(served[1]!);
      expectFlowLimited(r.res, 2);
      expect(r.res.headers.get('retry-after')).toBe('1');
    }
    conformance(doc).check('post', '/v1/appointments/{appointmentId}/confirm-payment', refused[0]!.res);
    expect(commands.api.flow.stat(PACED).totals.block.get('paced')).toBe(2);
  });
});
