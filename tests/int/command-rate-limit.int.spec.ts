/** Inbound flow control on the command API: a per-patient budget shared through the real Redis. */
import { randomUUID } from 'node:crypto';
import { RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis } from '../../platform/redis.ts';
import { anOpenScheduleRequest, startCommandApi, type Harness } from '../support/command-api-harness.ts';
import { testConfig } from '../support/test-config.ts';
import { uniqueName } from '../support/wait.ts';

describe('per-patient rate limit on commands', () => {
  const redis = createRedis(testConfig(), 'rate-limit-test', { enableOfflineQueue: false });
  let api: Harness;
  let scheduleId: string;
  let hospitalToken: string;

  beforeAll(async () => {
    const limiter = new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: uniqueName('rl:test'),
      points: 3,
      duration: 60,
      insuranceLimiter: new RateLimiterMemory({ points: 3, duration: 60 }),
    });
    api = await startCommandApi({ patientRateLimiter: limiter });
    hospitalToken = await api.tokenFor({ ...api.hospital, sub: 'hospital-rl' });
    const opened = await api.http.post('/v1/schedules', {
      token: hospitalToken,
      idempotencyKey: randomUUID(),
      body: anOpenScheduleRequest(api.catalog, { period: 'afternoon', capacity: 100, fee: 0 }),
    });
    expect(opened.status).toBe(201);
    scheduleId = (opened.body as { scheduleId: string }).scheduleId;
  });

  afterAll(async () => {
    await api?.stop();
    redis.disconnect();
  });

  const book = async (patientId: string) =>
    api.http.post('/v1/appointments', {
      token: await api.tokenFor({ sub: patientId, role: 'patient' }),
      idempotencyKey: randomUUID(),
      body: { scheduleId, patientId },
    });

  it('answers 429 with Retry-After once a patient spends the budget, without touching others', async () => {
    const greedy = `p-${randomUUID().slice(0, 8)}`;
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await book(greedy)).status);
    // The first books, the next two are refused by the domain (already booked), the rest by the limiter.
    expect(statuses).toEqual([201, 409, 409, 429, 429]);

    const limited = await book(greedy);
    expect(limited.status).toBe(429);
    expect(limited.headers['content-type']).toContain('application/problem+json');
    expect((limited.body as { code: string }).code).toBe('too_many_requests');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.headers['ratelimit-limit']).toBe('3');
    expect(limited.headers['ratelimit-remaining']).toBe('0');

    expect((await book(`p-${randomUUID().slice(0, 8)}`)).status).toBe(201);
  });

  it('does not limit hospital integrations', async () => {
    for (let i = 0; i < 5; i++) {
      const res = await api.http.post(`/v1/schedules/${scheduleId}/capacity`, {
        token: hospitalToken,
        idempotencyKey: randomUUID(),
        body: { capacity: 100 + i },
      });
      expect(res.status).toBe(200);
    }
  });
});
