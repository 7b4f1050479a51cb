/**
 * The request processor's health and metrics (docs/adr/0015) against the real engines: /healthz
 * and /readyz on its public port once it joined its group; on the admin port /metrics counts the
 * requests it decided, the chunk sizes and decide latency, and the group's lag per partition, and
 * the detailed health reports the lag sample.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../platform/config.ts';
import { createLogger } from '../../platform/logger.ts';
import { startRequestProcessor, type RequestProcessorHandle } from '../../requests/start.ts';
import {
  type Harness,
  newKey,
  openSchedule,
  randomPatient,
  startCommandApi,
} from '../support/command-api-harness.ts';
import { waitFor } from '../support/wait.ts';

let h: Harness;
let processor: RequestProcessorHandle;

beforeAll(async () => {
  const parsed = parseConfig(process.env);
  if (!parsed.ok) throw new Error(parsed.errors.join('; '));
  h = await startCommandApi({ poolSize: 10 });
  processor = await startRequestProcessor({
    config: parsed.config,
    logger: createLogger('requests-test', process.env.TEST_LOG_LEVEL ?? 'silent'),
    migrate: false,
    port: 0,
    probe: { intervalMs: 300, timeoutMs: 2_000 },
  });
  await processor.ready;
});

afterAll(async () => {
  await processor?.stop();
  await h?.stop();
});

const getJson = async (url: string) => {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

const metricValue = (text: string, line: RegExp): number => {
  const match = text.split('\n').find((l) => line.test(l));
  return match ? Number(match.split(' ').at(-1)) : Number.NaN;
};

describe('request processor health and metrics', () => {
  it('answers /healthz and /readyz on its port once joined; /metrics counts what it decided', async () => {
    const base = `http://127.0.0.1:${String(processor.port)}`;
    expect((await getJson(`${base}/healthz`)).status).toBe(200);
    await waitFor(async () => ((await getJson(`${base}/readyz`)).status === 200 ? true : undefined), {
      what: 'the processor ready',
      timeoutMs: 15_000,
    });

    const scheduleId = await openSchedule(h, { capacity: 1 });
    const hospital = await h.tokenFor(h.hospital);
    const on = await h.http.post(`/v1/schedules/${scheduleId}/rush`, {
      token: hospital,
      idempotencyKey: newKey(),
      body: { enabled: true },
    });
    expect(on.status).toBe(200);
    const outcomes: string[] = [];
    for (let i = 0; i < 2; i++) {
      const patient = randomPatient();
      const token = await h.tokenFor({ sub: patient, role: 'patient' });
      const accepted = await h.http.post('/v1/appointments', {
        token,
        idempotencyKey: newKey(),
        body: { scheduleId, patientId: patient },
      });
      expect([200, 202]).toContain(accepted.status);
      const final = await h.http.get(`/v1/booking-requests/${String(accepted.body.requestId)}?wait=10`, {
        token,
      });
      outcomes.push(String(final.body.status));
    }
    expect(outcomes).toEqual(['booked', 'rejected']);

    const metrics = await (await fetch(`${processor.adminUrl!}/metrics`)).text();
    expect(metricValue(metrics, /^booking_requests_decided_total\{outcome="booked"/)).toBeGreaterThanOrEqual(
      1,
    );
    expect(
      metricValue(metrics, /^booking_requests_decided_total\{outcome="rejected"/),
    ).toBeGreaterThanOrEqual(1);
    expect(metricValue(metrics, /^booking_request_batch_size_count/)).toBeGreaterThanOrEqual(2);
    expect(metricValue(metrics, /^booking_request_decide_seconds_count/)).toBeGreaterThanOrEqual(2);
    // The lag is sampled in the background: one gauge per partition of the topic once sampled.
    await waitFor(
      async () => {
        const text = await (await fetch(`${processor.adminUrl!}/metrics`)).text();
        return /^booking_requests_consumer_lag\{partition="\d+"/m.test(text) ? true : undefined;
      },
      { what: 'the lag gauge per partition', timeoutMs: 10_000 },
    );
    const detail = await getJson(`${processor.adminUrl!}/readyz`);
    expect(detail.status).toBe(200);
    expect(detail.body).toMatchObject({ lag: { value: { total: expect.any(Number) } } });
  });
});
