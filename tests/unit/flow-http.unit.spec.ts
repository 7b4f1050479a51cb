/** How platform/flow/http.ts names resources and answers refusals (the catalogue's problems). */
import { describe, expect, it } from 'vitest';
import { commandApiRoutes } from '../../command-api/route-specs.ts';
import { refusal, routeMatcher } from '../../platform/flow/http.ts';
import { DEFAULT_FLOW_RULES_INPUT, defaultFlowRules } from '../../platform/flow/default-rules.ts';
import { catalogue } from '../../platform/http/errors.ts';
import { queryApiRoutes } from '../../query-api/route-specs.ts';

describe('inbound resources', () => {
  it('are METHOD and route template, matched before Express routes the request', () => {
    const match = routeMatcher([...commandApiRoutes, ...queryApiRoutes]);
    expect(match('POST', '/v1/appointments/abc/cancel')).toEqual({
      resource: 'POST /v1/appointments/:appointmentId/cancel',
      route: '/v1/appointments/:appointmentId/cancel',
      params: { appointmentId: 'abc' },
      longPoll: false,
    });
    expect(match('GET', '/v1/booking-requests/r1')?.longPoll).toBe(true);
    expect(match('HEAD', '/v1/homepage')?.resource).toBe('GET /v1/homepage');
    expect(match('GET', '/v1/appointments/abc/cancel')).toBeUndefined();
    expect(match('GET', '/v1/nowhere')).toBeUndefined();
  });

  it('of the default rules all name routes of the two APIs', () => {
    const names = new Set(
      [...commandApiRoutes, ...queryApiRoutes].map((r) => `${r.method.toUpperCase()} ${r.path}`),
    );
    for (const resource of Object.keys(DEFAULT_FLOW_RULES_INPUT.resources ?? {}))
      expect(names).toContain(resource);
    expect(defaultFlowRules().resources['GET /v1/search/institutions']?.[0]).toMatchObject({
      kind: 'hot-param',
      param: { from: 'ip' },
    });
  });
});

describe('refusals', () => {
  it('a rule of the route → 429 flow_limited with Retry-After and the RateLimit fields', () => {
    const err = refusal({
      pass: false,
      resource: 'GET /v1/x',
      rule: 'qps',
      system: false,
      retryAfterMs: 1_200,
      limit: 10,
    });
    expect(err.code).toBe('flow_limited');
    expect(catalogue[err.code].status).toBe(429);
    expect(err.headers).toEqual({
      'Retry-After': '2',
      'RateLimit-Limit': '10',
      'RateLimit-Remaining': '0',
      'RateLimit-Reset': '2',
    });
  });

  it('system protection → 503 system_overloaded with Retry-After of at least a second', () => {
    const err = refusal({
      pass: false,
      resource: 'unmatched',
      rule: 'system-bbr',
      system: true,
      retryAfterMs: 10,
    });
    expect(err.code).toBe('system_overloaded');
    expect(catalogue[err.code].status).toBe(503);
    expect(err.headers).toEqual({ 'Retry-After': '1' });
  });
});
