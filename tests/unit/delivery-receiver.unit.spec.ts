/**
 * The receiver contract (docs/adr/0016) between the worker's sending code (delivery/http-delivery.ts)
 * and the reference receiver (integration/his-mock/), over loopback HTTP: a signed delivery is
 * applied once, a tampered body and an old delivery replayed past the window are refused, a
 * repeated sequence number is dropped, a skipped one recorded; and the retry schedule.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { parseRetryAfter, retryDelayMs } from '../../delivery/backoff.ts';
import { type DeliveryBody, postDelivery, ReceiverRefused } from '../../delivery/http-delivery.ts';
import { signatureHeader } from '../../delivery/signature.ts';
import { startHisMock, type HisMock } from '../../integration/his-mock/his-mock.ts';
import { Validator } from '@seriousme/openapi-schema-validator';
import { deliverySchema, receiverContract } from '../support/receiver-contract.ts';

const secret = 'unit-test-secret-0123456789abcdef';
let mock: HisMock | undefined;
afterEach(async () => {
  await mock?.close();
  mock = undefined;
});

const body = (seq: number): DeliveryBody => ({
  institutionId: 'inst-1',
  seq,
  idempotencyKey: `inst-1:${seq}`,
  eventId: `00000000-0000-4000-8000-00000000000${seq}`,
  type: 'AppointmentBooked',
  occurredAt: '2030-01-10T00:00:00.000Z',
  data: { appointmentId: `a${seq}`, patientId: 'p1' },
});

const send = (url: string, b: DeliveryBody, nowMs?: number) =>
  postDelivery({
    url,
    secret,
    body: b,
    signal: AbortSignal.timeout(5_000),
    fallbackTraceparent: undefined,
    ...(nowMs === undefined ? {} : { nowMs }),
  });

describe('reference receiver', () => {
  it('applies a signed delivery once and drops its repetition by sequence number', async () => {
    mock = await startHisMock({ secret });
    await send(mock.url, body(1));
    await send(mock.url, body(1));
    expect(mock.applied().map((d) => d.seq)).toEqual([1]);
    expect(mock.duplicates).toEqual([{ institutionId: 'inst-1', seq: 1 }]);
  });

  it('refuses a tampered body with 401', async () => {
    mock = await startHisMock({ secret });
    const text = JSON.stringify(body(1));
    const res = await fetch(mock.url, {
      method: 'POST',
      headers: {
        'x-booking-institution': 'inst-1',
        'x-booking-signature': signatureHeader(secret, text, Math.floor(Date.now() / 1000)),
      },
      body: text.replace('"p1"', '"p2"'),
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: 'bad_signature' });
    expect(mock.applied()).toEqual([]);
  });

  it('refuses a delivery signed more than 300 s ago (a replay), accepts one within the window', async () => {
    mock = await startHisMock({ secret });
    const old = send(mock.url, body(1), Date.now() - 301_000);
    await expect(old).rejects.toMatchObject({ status: 401, retryable: false });
    await expect(old).rejects.toBeInstanceOf(ReceiverRefused);
    await send(mock.url, body(1), Date.now() - 250_000);
    expect(mock.applied().map((d) => d.seq)).toEqual([1]);
    expect(mock.refusals).toEqual([{ status: 401, reason: 'stale_timestamp' }]);
  });

  it('records a gap in the sequence', async () => {
    mock = await startHisMock({ secret });
    await send(mock.url, body(1));
    await send(mock.url, body(3));
    expect(mock.gaps).toEqual([{ institutionId: 'inst-1', expected: 2, got: 3 }]);
  });

  it('fails on demand with 503, every other one with Retry-After, as retryable', async () => {
    mock = await startHisMock({ secret, failRate: 1, retryAfterSeconds: 7 });
    const first = await send(mock.url, body(1)).catch((e: unknown) => e);
    const second = await send(mock.url, body(1)).catch((e: unknown) => e);
    expect(first).toMatchObject({ status: 503, retryable: true, retryAfterMs: undefined });
    expect(second).toMatchObject({ status: 503, retryable: true, retryAfterMs: 7_000 });
  });
});

describe('receiver contract (contracts/hospital-receiver.openapi.yaml)', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const result = await new Validator().validate(receiverContract());
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('declares every status the reference receiver answers with', async () => {
    mock = await startHisMock({ secret });
    const statuses = new Set<number>();
    const post = async (text: string, signedText = text) => {
      const res = await fetch(mock!.url, {
        method: 'POST',
        headers: {
          'x-booking-institution': 'inst-1',
          'x-booking-signature': signatureHeader(secret, signedText, Math.floor(Date.now() / 1000)),
        },
        body: text,
      });
      statuses.add(res.status);
    };
    const good = JSON.stringify(body(1));
    await post(good); // applied
    await post(good); // duplicate
    await post(good.replace('"p1"', '"p2"'), good); // tampered
    await post('{"not":"a delivery"}'); // not a delivery
    mock.setFailRate(1);
    await post(JSON.stringify(body(2))); // failing
    expect([...statuses].sort()).toEqual([200, 400, 401, 503]);
    const responses = (receiverContract().webhooks as Record<string, { post: { responses: object } }>)
      .delivery!.post.responses;
    expect(Object.keys(responses).sort()).toEqual([...statuses].map(String).sort());
  });

  it('describes the delivery body: a well-formed one passes, one missing its data does not', () => {
    const validate = deliverySchema();
    const booked = {
      ...body(1),
      data: {
        scheduleId: 's1',
        appointmentId: 'a1',
        doctorId: '1',
        departmentId: '2',
        date: '2030-01-15',
        period: 'morning',
        sessionStartsAt: '2030-01-15T00:00:00.000Z',
        bookedAt: '2030-01-10T00:00:00.000Z',
        patientId: null,
      },
    };
    expect(validate(booked), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ ...booked, data: { appointmentId: 'a1' } })).toBe(false);
    expect(validate({ ...booked, type: 'Unknown' })).toBe(false);
  });
});

describe('retry schedule', () => {
  const opts = { baseMs: 100, maxMs: 1_000 };
  it('doubles from the base up to the maximum, jittered within the upper half of each step', () => {
    expect(retryDelayMs(1, { ...opts, random: () => 0 })).toBe(50);
    expect(retryDelayMs(1, { ...opts, random: () => 1 })).toBe(100);
    expect(retryDelayMs(3, { ...opts, random: () => 1 })).toBe(400);
    expect(retryDelayMs(10, { ...opts, random: () => 0.5 })).toBe(750);
  });
  it('never retries sooner than Retry-After', () => {
    expect(retryDelayMs(1, { ...opts, retryAfterMs: 5_000, random: () => 1 })).toBe(5_000);
    expect(parseRetryAfter('7', 0)).toBe(7_000);
    expect(parseRetryAfter(new Date(60_000).toUTCString(), 0)).toBe(60_000);
    expect(parseRetryAfter('soon', 0)).toBeUndefined();
  });
});
