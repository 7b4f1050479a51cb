import { describe, expect, it } from 'vitest';
import {
  livenessResponse,
  readinessResponse,
  runCheck,
  runChecks,
  type HealthOptions,
} from '../../platform/http/health.ts';

const never = () => new Promise<never>(() => undefined);
const fail = (message: string) => () => {
  throw new Error(message);
};

describe('check runner', () => {
  it('reports ok, the error message, or a timeout, and never waits past the deadline', async () => {
    const t0 = Date.now();
    const results = await runChecks(
      { ok: () => Promise.resolve(1), sync: () => 1, broken: fail('connection refused'), hung: never },
      50,
    );
    expect(Date.now() - t0).toBeLessThan(500);
    expect(results).toEqual({
      ok: { status: 'ok' },
      sync: { status: 'ok' },
      broken: { status: 'failing', reason: 'connection refused' },
      hung: { status: 'failing', reason: 'timed out after 50 ms' },
    });
  });

  it('a rejected promise is a failure, not a throw', async () => {
    expect(await runCheck(() => Promise.reject(new Error('down')), 50)).toEqual({
      status: 'failing',
      reason: 'down',
    });
  });
});

describe('liveness and readiness', () => {
  const opts = (o: Partial<HealthOptions>): HealthOptions => ({ checks: {}, timeoutMs: 50, ...o });

  it('all well: 200 ok and 200 ready', async () => {
    const o = opts({ checks: { postgres: () => 1 }, liveness: { loop: () => 1 } });
    expect(await livenessResponse(o)).toEqual({
      statusCode: 200,
      body: { status: 'ok', checks: { loop: 'ok', postgres: 'ok' } },
    });
    expect((await readinessResponse(o)).statusCode).toBe(200);
    expect((await readinessResponse(o)).body.status).toBe('ready');
  });

  it('a dependency outage: /healthz 200 degraded with the reasons, /readyz 503', async () => {
    const o = opts({ checks: { kafka: fail('ECONNREFUSED'), redis: never } });
    const live = await livenessResponse(o);
    expect(live.statusCode).toBe(200);
    expect(live.body).toMatchObject({
      status: 'degraded',
      reasons: ['kafka: ECONNREFUSED', 'redis: timed out after 50 ms'],
    });
    const ready = await readinessResponse(o);
    expect(ready.statusCode).toBe(503);
    expect(ready.body.reasons).toEqual(['kafka: ECONNREFUSED', 'redis: timed out after 50 ms']);
  });

  it('a dead loop: /healthz 503 failing (restart me), /readyz 503', async () => {
    const o = opts({
      checks: { kafka: fail('down') },
      liveness: { 'projector:redis': fail('stopped for good') },
    });
    const live = await livenessResponse(o);
    expect(live.statusCode).toBe(503);
    expect(live.body).toMatchObject({ status: 'failing', reasons: ['projector:redis: stopped for good'] });
    expect((await readinessResponse(o)).statusCode).toBe(503);
  });

  it('starting and stopping: not ready, but alive', async () => {
    const starting = opts({ isStarted: () => false });
    expect((await livenessResponse(starting)).statusCode).toBe(200);
    expect(await readinessResponse(starting)).toMatchObject({
      statusCode: 503,
      body: { status: 'not_ready', reasons: ['starting'] },
    });
    const stopping = opts({ isShuttingDown: () => true });
    expect(await livenessResponse(stopping)).toMatchObject({ statusCode: 200, body: { status: 'stopping' } });
    expect(await readinessResponse(stopping)).toMatchObject({
      statusCode: 503,
      body: { status: 'stopping' },
    });
  });

  it('details are added to both bodies', async () => {
    const o = opts({ details: () => ({ lag: { redis: { value: 3, ageMs: 10 } } }) });
    expect((await livenessResponse(o)).body.lag).toEqual({ redis: { value: 3, ageMs: 10 } });
    expect((await readinessResponse(o)).body.lag).toEqual({ redis: { value: 3, ageMs: 10 } });
  });
});
