import { DEV_PATIENT_KEK } from '../../platform/patient-vault.ts';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CommandApiClient } from '../../clients/index.ts';
import { scheduleStreamName } from '../../domain/schedule.ts';
import { sessionStart } from '../../domain/session-time.ts';
import { signToken } from '../../platform/http/auth.ts';
import { createApp } from '../../command-api/app.ts';
import { boundPort, drain, listen } from '../../platform/http/server.ts';
import { createLogger } from '../../platform/logger.ts';
import { createPool } from '../../platform/pg.ts';
import {
  anOpenScheduleRequest,
  book,
  type Harness,
  newKey,
  openSchedule,
  randomPatient,
  startCommandApi,
  TEST_SECRET,
} from '../support/command-api-harness.ts';
import { nextSessionDate } from '../support/catalog-mother.ts';
import { HttpClient, type HttpResponse } from '../support/http-client.ts';

let h: Harness;
let hospitalToken: string;
let adminToken: string;
/** The typed clients (clients/) for the main flows; raw HTTP for the malformed and hostile requests. */
let hospital: CommandApiClient;
let admin: CommandApiClient;

beforeAll(async () => {
  h = await startCommandApi();
  hospitalToken = await h.tokenFor(h.hospital);
  adminToken = await h.tokenFor({ sub: 'admin-1', role: 'admin' });
  hospital = await h.clientFor(h.hospital);
  admin = await h.clientFor({ sub: 'admin-1', role: 'admin' });
});

afterAll(async () => {
  await h.stop();
});

afterEach(() => {
  h.hooks.beforeCommit = undefined;
  h.hooks.afterCommit = undefined;
  h.clock.now = () => new Date();
});

const problemCode = (res: HttpResponse): string => String(res.body?.code);

async function streamEvents(scheduleId: string) {
  const { rows } = await h.pool.query<{
    event_type: string;
    data: Record<string, unknown>;
    metadata: Record<string, unknown>;
  }>('SELECT event_type, data, metadata FROM events WHERE stream_id = $1 ORDER BY stream_revision', [
    scheduleStreamName(scheduleId),
  ]);
  return rows;
}

describe('POST /v1/schedules', () => {
  it('opens a schedule: 201 with its id, Location and a checkpoint', async () => {
    const body = anOpenScheduleRequest(h.catalog, { period: 'evening', capacity: 7 });
    const { data, response } = await hospital.POST('/v1/schedules', {
      params: { header: { 'Idempotency-Key': newKey() } },
      body,
    });
    expect(response.status).toBe(201);
    expect(data).toMatchObject({
      status: 'open',
      capacity: 7,
      sessionStartsAt: sessionStart(body.date, 'evening').toISOString(),
    });
    expect(response.headers.get('location')).toBe(`/v1/schedules/${data!.scheduleId}`);
    expect(response.headers.get('booking-checkpoint')).toMatch(/^\d+:\d+$/);
    expect((await streamEvents(data!.scheduleId)).map((e) => e.event_type)).toEqual(['ScheduleOpened']);
  });

  it('accepts a client-chosen schedule id once, then 409 schedule_already_exists', async () => {
    const scheduleId = randomUUID();
    const open = (client: CommandApiClient) =>
      client.POST('/v1/schedules', {
        params: { header: { 'Idempotency-Key': newKey() } },
        body: anOpenScheduleRequest(h.catalog, { scheduleId }),
      });
    const first = await open(hospital);
    expect(first.response.status).toBe(201);
    expect(first.data?.scheduleId).toBe(scheduleId);
    const second = await open(admin);
    expect(second.response.status).toBe(409);
    expect(second.error?.code).toBe('schedule_already_exists');
  });

  it('forbids patients from opening schedules', async () => {
    const res = await h.http.post('/v1/schedules', {
      token: await h.tokenFor({ sub: 'p1', role: 'patient' }),
      idempotencyKey: newKey(),
      body: anOpenScheduleRequest(h.catalog),
    });
    expect(res.status).toBe(403);
    expect(problemCode(res)).toBe('forbidden');
  });

  it('rejects a session of today that has begun with 409 session_started', async () => {
    const date = nextSessionDate();
    h.clock.now = () => new Date(sessionStart(date, 'morning').getTime() + 3_600_000);
    const res = await h.http.post('/v1/schedules', {
      token: hospitalToken,
      idempotencyKey: newKey(),
      body: anOpenScheduleRequest(h.catalog, { date, period: 'morning' }),
    });
    expect(res.status).toBe(409);
    expect(problemCode(res)).toBe('session_started');
  });
});

describe('POST /v1/appointments', () => {
  it('books: 201 {appointmentId, scheduleId, status} and stores the key and actor with the event', async () => {
    const scheduleId = await openSchedule(h);
    const patientId = randomPatient();
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const key = newKey();
    const patient = await h.clientFor({ sub: patientId, role: 'patient' });
    const { data, response } = await patient.POST('/v1/appointments', {
      params: { header: { 'Idempotency-Key': key, traceparent: `00-${traceId}-00f067aa0ba902b7-01` } },
      body: { scheduleId, patientId },
    });
    expect(response.status).toBe(201);
    expect(data).toEqual({ appointmentId: expect.any(String), scheduleId, status: 'active' });
    const booked = (await streamEvents(scheduleId)).find((e) => e.event_type === 'AppointmentBooked');
    // The patient is their opaque reference and a sealed identity, never the id (docs/adr/0010).
    const { rows: keys } = await h.pool.query<{ patient_ref: string }>(
      'SELECT patient_ref FROM patient_keys WHERE patient_id = $1',
      [patientId],
    );
    const patientRef = keys[0]!.patient_ref;
    expect(booked?.data).toMatchObject({
      appointmentId: (data as { appointmentId: string }).appointmentId,
      patientRef,
    });
    expect(JSON.stringify([booked?.data, booked?.metadata])).not.toContain(patientId);
    // Trace headers and the trace metadata (correlationId, traceparent) come from the OpenTelemetry
    // SDK, which this in-process API runs without: tests/int/tracing.e2e.spec.ts checks them.
    expect(booked?.metadata).toMatchObject({
      idempotencyKey: key,
      actor: { id: patientRef, role: 'patient' },
    });
    const indexed = await h.pool.query(
      'SELECT stream_id, patient_ref FROM appointment_index WHERE appointment_id = $1',
      [(data as { appointmentId: string }).appointmentId],
    );
    expect(indexed.rows).toEqual([{ stream_id: scheduleStreamName(scheduleId), patient_ref: patientRef }]);
  });

  it('forbids a patient from booking for someone else (403), lets a hospital book on their behalf', async () => {
    const scheduleId = await openSchedule(h);
    const res = await h.http.post('/v1/appointments', {
      token: await h.tokenFor({ sub: 'p-self', role: 'patient' }),
      idempotencyKey: newKey(),
      body: { scheduleId, patientId: 'p-other' },
    });
    expect(res.status).toBe(403);
    const byHospital = await h.http.post('/v1/appointments', {
      token: hospitalToken,
      idempotencyKey: newKey(),
      body: { scheduleId, patientId: 'p-other' },
    });
    expect(byHospital.status).toBe(201);
  });

  it('maps each business rule to a 409 with a stable type', async () => {
    const scheduleId = await openSchedule(h, { capacity: 1 });
    const p1 = randomPatient();
    expect((await book(h, scheduleId, p1)).status).toBe(201);
    const again = await book(h, scheduleId, p1);
    expect(again.status).toBe(409);
    expect(again.body.type).toBe('/problems/already_booked');
    const full = await book(h, scheduleId, randomPatient());
    expect(full.status).toBe(409);
    expect(full.body).toMatchObject({
      code: 'schedule_full',
      type: '/problems/schedule_full',
    });
    expect(full.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('404 schedule_not_found for an unknown schedule', async () => {
    const res = await book(h, randomUUID(), randomPatient());
    expect(res.status).toBe(404);
    expect(problemCode(res)).toBe('schedule_not_found');
  });

  it('409 session_started once the session has begun', async () => {
    const date = nextSessionDate();
    const scheduleId = await openSchedule(h, { date, period: 'morning' });
    h.clock.now = () => new Date(sessionStart(date, 'morning').getTime() + 30 * 60_000);
    const res = await book(h, scheduleId, randomPatient());
    expect(res.status).toBe(409);
    expect(problemCode(res)).toBe('session_started');
  });
});

describe('POST /v1/appointments/{id}/cancel', () => {
  it('lets the patient cancel their own appointment, with or without a body', async () => {
    const scheduleId = await openSchedule(h);
    const patientId = randomPatient();
    const patient = await h.clientFor({ sub: patientId, role: 'patient' });
    const bookOne = async () =>
      (
        (
          await patient.POST('/v1/appointments', {
            params: { header: { 'Idempotency-Key': newKey() } },
            body: { scheduleId, patientId },
          })
        ).data as { appointmentId: string }
      ).appointmentId;
    const cancel = (appointmentId: string, body?: { reason: string }) =>
      patient.POST('/v1/appointments/{appointmentId}/cancel', {
        params: { path: { appointmentId }, header: { 'Idempotency-Key': newKey() } },
        ...(body ? { body } : {}),
      });
    const appointmentId = await bookOne();
    const { data, response } = await cancel(appointmentId, { reason: 'feeling better' });
    expect(response.status).toBe(200);
    expect(data).toEqual({ appointmentId, scheduleId, status: 'cancelled' });
    expect(response.headers.get('booking-checkpoint')).toMatch(/^\d+:\d+$/);
    const noBody = await cancel(await bookOne());
    expect(noBody.response.status).toBe(200);
  });

  it("403 when a patient cancels someone else's appointment; hospital and admin may", async () => {
    const scheduleId = await openSchedule(h);
    const a = await book(h, scheduleId, randomPatient());
    const b = await book(h, scheduleId, randomPatient());
    const other = await h.http.post(`/v1/appointments/${a.body.appointmentId}/cancel`, {
      token: await h.tokenFor({ sub: randomPatient(), role: 'patient' }),
      idempotencyKey: newKey(),
      body: {},
    });
    expect(other.status).toBe(403);
    for (const [token, res] of [
      [hospitalToken, a],
      [adminToken, b],
    ] as const) {
      const ok = await h.http.post(`/v1/appointments/${res.body.appointmentId}/cancel`, {
        token,
        idempotencyKey: newKey(),
        body: { reason: 'rescheduled' },
      });
      expect(ok.status).toBe(200);
    }
  });

  it('409 appointment_not_active when cancelling twice, 404 for an unknown appointment', async () => {
    const scheduleId = await openSchedule(h);
    const { body } = await book(h, scheduleId, randomPatient());
    const cancel = () =>
      h.http.post(`/v1/appointments/${body.appointmentId}/cancel`, {
        token: hospitalToken,
        idempotencyKey: newKey(),
        body: {},
      });
    expect((await cancel()).status).toBe(200);
    const twice = await cancel();
    expect(twice.status).toBe(409);
    expect(problemCode(twice)).toBe('appointment_not_active');
    const unknown = await h.http.post(`/v1/appointments/${randomUUID()}/cancel`, {
      token: hospitalToken,
      idempotencyKey: newKey(),
      body: {},
    });
    expect(unknown.status).toBe(404);
    expect(problemCode(unknown)).toBe('appointment_not_found');
  });
});

describe('capacity and close', () => {
  it('changes capacity, never below the active count', async () => {
    const scheduleId = await openSchedule(h, { capacity: 3 });
    await book(h, scheduleId, randomPatient());
    await book(h, scheduleId, randomPatient());
    const post = (capacity: number, id = scheduleId) =>
      hospital.POST('/v1/schedules/{scheduleId}/capacity', {
        params: { path: { scheduleId: id }, header: { 'Idempotency-Key': newKey() } },
        body: { capacity },
      });
    const raised = await post(10);
    expect(raised.response.status).toBe(200);
    expect(raised.data).toEqual({ scheduleId, capacity: 10 });
    const below = await post(1);
    expect(below.response.status).toBe(409);
    expect(below.error?.code).toBe('capacity_below_active');
    const same = await post(10);
    expect(same.response.status).toBe(200);
    expect(same.response.headers.get('booking-checkpoint')).toBe(
      raised.response.headers.get('booking-checkpoint'),
    );
    const unknown = await post(5, randomUUID());
    expect(unknown.response.status).toBe(404);
  });

  it('closes a schedule, cancelling its active appointments with the reason', async () => {
    const scheduleId = await openSchedule(h);
    const a = await book(h, scheduleId, randomPatient());
    const b = await book(h, scheduleId, randomPatient());
    const { data } = await admin.POST('/v1/schedules/{scheduleId}/close', {
      params: { path: { scheduleId }, header: { 'Idempotency-Key': newKey() } },
      body: { reason: 'doctor ill' },
    });
    expect(data?.status).toBe('closed');
    expect([...data!.cancelledAppointmentIds].sort()).toEqual(
      [a.body.appointmentId, b.body.appointmentId].sort(),
    );
    const types = (await streamEvents(scheduleId)).map((e) => e.event_type);
    expect(types.slice(-3)).toEqual(['AppointmentCancelled', 'AppointmentCancelled', 'ScheduleClosed']);
    const late = await book(h, scheduleId, randomPatient());
    expect(late.status).toBe(409);
    expect(problemCode(late)).toBe('schedule_closed');
    const patientClose = await h.http.post(`/v1/schedules/${scheduleId}/close`, {
      token: await h.tokenFor({ sub: 'p1', role: 'patient' }),
      idempotencyKey: newKey(),
      body: { reason: 'x' },
    });
    expect(patientClose.status).toBe(403);
  });
});

describe('authentication', () => {
  const post = (headers: Record<string, string>) =>
    h.http.post('/v1/appointments', { headers, idempotencyKey: newKey(), body: {} });

  it('401 without a token, with a bad signature, an expired token or a bad role claim', async () => {
    const scheduleId = randomUUID();
    const body = { scheduleId, patientId: 'p1' };
    const wrongSecret = await signToken('another-secret-that-is-long-enough-123456', {
      sub: 'p1',
      role: 'patient',
    });
    const expired = await signToken(
      TEST_SECRET,
      { sub: 'p1', role: 'patient' },
      { expiresIn: Math.floor(Date.now() / 1000) - 60 },
    );
    const badRole = await signToken(TEST_SECRET, { sub: 'p1', role: 'superuser' as never });
    for (const authorization of [
      undefined,
      'Basic abc',
      `Bearer ${wrongSecret}`,
      `Bearer ${expired}`,
      `Bearer ${badRole}`,
      'Bearer x.y.z',
    ]) {
      const res = await h.http.post('/v1/appointments', {
        headers: { authorization },
        idempotencyKey: newKey(),
        body,
      });
      expect(res.status, String(authorization)).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
      expect(problemCode(res)).toBe('unauthenticated');
    }
    expect((await post({})).status).toBe(401);
  });
});

describe('bad input never yields a 5xx', () => {
  let token: string;
  let scheduleId: string;
  beforeAll(async () => {
    token = await h.tokenFor({ sub: 'p-input', role: 'patient' });
    scheduleId = await openSchedule(h);
  });

  it('400 listing every invalid field; unknown fields rejected', async () => {
    const res = await h.http.post('/v1/schedules', {
      token: hospitalToken,
      idempotencyKey: newKey(),
      body: {
        ...anOpenScheduleRequest(h.catalog, { date: '2030-02-30', period: 'night', capacity: 0, fee: -5 }),
        extra: true,
      },
    });
    expect(res.status).toBe(400);
    expect(problemCode(res)).toBe('validation_failed');
    const names = (res.body['invalid-params'] as { name: string }[]).map((p) => p.name);
    // the unknown field is named itself
    expect(names).toEqual(expect.arrayContaining(['date', 'period', 'capacity', 'fee', 'extra']));
  });

  it('400 for a malformed body, an array body and a bad path id', async () => {
    const malformed = await h.http.post('/v1/appointments', {
      token,
      idempotencyKey: newKey(),
      rawBody: '{"scheduleId": ',
      headers: { 'content-type': 'application/json' },
    });
    expect(malformed.status).toBe(400);
    expect(problemCode(malformed)).toBe('malformed_json');
    const array = await h.http.post('/v1/appointments', { token, idempotencyKey: newKey(), body: [1, 2] });
    expect(array.status).toBe(400);
    const badId = await h.http.post('/v1/appointments/not-a-uuid/cancel', {
      token,
      idempotencyKey: newKey(),
      body: {},
    });
    expect(badId.status).toBe(400);
    expect(badId.body['invalid-params'][0].name).toBe('appointmentId');
  });

  it('413 over 64 KiB, 415 for a non-JSON content type', async () => {
    const big = await h.http.post('/v1/appointments', {
      token,
      idempotencyKey: newKey(),
      body: { scheduleId, patientId: 'p-input', padding: 'x'.repeat(70 * 1024) },
    });
    expect(big.status).toBe(413);
    expect(problemCode(big)).toBe('payload_too_large');
    const form = await h.http.post('/v1/appointments', {
      token,
      idempotencyKey: newKey(),
      rawBody: 'scheduleId=1',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(form.status).toBe(415);
    const none = await h.http.post('/v1/appointments', {
      token,
      idempotencyKey: newKey(),
      rawBody: '{}',
      headers: { 'content-type': undefined },
    });
    expect(none.status).toBe(415);
  });

  it('405 for a wrong method, 404 for an unknown route, all problem+json without stack traces', async () => {
    const get = await h.http.get('/v1/schedules', { token });
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe('POST');
    const unknown = await h.http.get('/nope');
    expect(unknown.status).toBe(404);
    for (const res of [get, unknown]) {
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.text).not.toMatch(/at .*\.ts:\d+/);
    }
  });

  it('survives a barrage of random bodies without a 5xx', async () => {
    const bodies: unknown[] = [
      null,
      'str',
      42,
      { scheduleId: 42, patientId: null },
      { scheduleId, patientId: 'p-input', nested: { a: [1, { b: 2 }] } },
      { scheduleId: 'x'.repeat(5000), patientId: '💥' },
      { ['__proto__']: { polluted: true }, scheduleId, patientId: 'p-input' },
    ];
    for (const body of bodies) {
      const res = await h.http.post('/v1/appointments', {
        token,
        idempotencyKey: newKey(),
        rawBody: JSON.stringify(body),
        headers: { 'content-type': 'application/json' },
      });
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBeLessThan(500);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('operations', () => {
  it('/healthz is live, /readyz checks PostgreSQL: status only in public, the checks on the admin port', async () => {
    expect((await h.http.get('/healthz')).status).toBe(200);
    const ready = await h.http.get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: 'ready' });
    const detailed = await h.admin.get('/readyz');
    expect(detailed.status).toBe(200);
    expect(detailed.body.checks).toEqual({ postgres: 'ok' });
  });

  it('/metrics is served on the admin port only', async () => {
    expect((await h.http.get('/metrics')).status).toBe(404);
    const metrics = await h.admin.get('/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.text).toMatch(/http_request_duration_seconds/);
    expect(new URL(h.baseUrl).hostname).toBe('127.0.0.1');
  });

  it('/metrics exposes request durations per route template and append latency', async () => {
    const scheduleId = await openSchedule(h);
    const { body } = await book(h, scheduleId, randomPatient());
    await h.http.post(`/v1/appointments/${body.appointmentId}/cancel`, {
      token: hospitalToken,
      idempotencyKey: newKey(),
      body: {},
    });
    const metrics = (await h.admin.get('/metrics')).text;
    expect(metrics).toMatch(
      /http_request_duration_seconds_count\{method="POST",route="\/v1\/appointments\/:appointmentId\/cancel",status_code="200"\} \d+/,
    );
    expect(metrics).toMatch(
      /http_request_duration_seconds_count\{method="POST",route="\/v1\/appointments",status_code="409"\}/,
    );
    expect(metrics).toMatch(/event_store_append_duration_seconds_count\{outcome="ok"\} \d+/);
    expect(metrics).not.toMatch(new RegExp(String(body.appointmentId)));
  });

  it('503 dependency_unavailable (never a 500) when PostgreSQL is unreachable; /readyz fails', async () => {
    const deadPool = createPool(
      { DATABASE_URL: 'postgres://booking:booking@127.0.0.1:1/booking', PG_POOL_MAX: 2 },
      { connectionTimeoutMs: 500 },
    );
    const dead = createApp({
      pool: deadPool,
      config: { JWT_SECRET: TEST_SECRET, IDEMPOTENCY_TTL_HOURS: 24, PATIENT_KEK: DEV_PATIENT_KEK },
      logger: createLogger('dead', 'silent'),
      idempotencyPurgeIntervalMs: 0,
    });
    const server = await listen(dead.handler, 0, '127.0.0.1');
    const client = new HttpClient(`http://127.0.0.1:${boundPort(server)}`);
    try {
      const res = await client.post('/v1/appointments', {
        token: await h.tokenFor({ sub: 'p1', role: 'patient' }),
        idempotencyKey: newKey(),
        body: { scheduleId: randomUUID(), patientId: 'p1' },
      });
      expect(res.status).toBe(503);
      expect(problemCode(res)).toBe('dependency_unavailable');
      expect(res.headers['retry-after']).toBe('2');
      const ready = await client.get('/readyz');
      expect(ready.status).toBe(503);
      expect((await client.get('/healthz')).status).toBe(200);
    } finally {
      client.close();
      await drain(server, 1_000);
      dead.close();
      await deadPool.end();
    }
  });

  it('drains in-flight requests on shutdown', async () => {
    const other = await startCommandApi();
    try {
      const scheduleId = await openSchedule(other);
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let entered!: () => void;
      const inside = new Promise<void>((r) => (entered = r));
      other.hooks.beforeCommit = async () => {
        entered();
        await gate;
      };
      const pending = book(other, scheduleId, randomPatient());
      await inside;
      other.api.beginShutdown();
      const drained = drain(other.server, 5_000);
      const notReady = await Promise.race([
        drained.then(() => 'drained'),
        new Promise((r) => setTimeout(() => r('waiting'), 200)),
      ]);
      expect(notReady).toBe('waiting');
      release();
      const res = await pending;
      expect(res.status).toBe(201);
      await drained;
      expect(other.server.listening).toBe(false);
    } finally {
      other.hooks.beforeCommit = undefined;
      await other.stop();
    }
  });
});
