/**
 * Commands against the tenancy and the catalog: a hospital acts only for its own institution
 * (opening for it; changing, closing, booking, cancelling, paying, attendance, the waitlist and rush
 * mode on its schedules; reading their booking requests); a schedule
 * opens only for an active catalog doctor of the institution and department named, inside the
 * booking horizon, and once per doctor session even when two opens race.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scheduleStreamName } from '../../domain/schedule.ts';
import { addDays } from '../../domain/session-time.ts';
import type { Principal } from '../../platform/http/auth.ts';
import {
  type CatalogDoctorIds,
  givenCatalogDoctor,
  hospitalToday,
  nextSessionDate,
} from '../support/catalog-mother.ts';
import {
  anOpenScheduleRequest,
  type Harness,
  newKey,
  openSchedule,
  randomPatient,
  startCommandApi,
} from '../support/command-api-harness.ts';
import type { HttpResponse } from '../support/http-client.ts';

let h: Harness;
/** Institution A: the harness's catalog doctor, and its hospital user. */
let a: CatalogDoctorIds;
let hospitalA: Principal;
/** Institution B, and its hospital user h9. */
let b: CatalogDoctorIds;
let h9: Principal;
const admin: Principal = { sub: 'admin-1', role: 'admin' };

beforeAll(async () => {
  h = await startCommandApi();
  a = h.catalog;
  hospitalA = h.hospital;
  b = await givenCatalogDoctor(h.pool);
  h9 = { sub: 'h9', role: 'hospital', institutionId: b.institutionId };
});

afterAll(async () => {
  await h?.stop();
});

const as = async (principal: Principal, path: string, body: unknown, key = newKey()) =>
  h.http.post(path, { token: await h.tokenFor(principal), idempotencyKey: key, body });

/** Each event of the stream, by type: what a refused command must leave as it was. */
async function eventsOf(scheduleId: string): Promise<string[]> {
  const { rows } = await h.pool.query<{ event_type: string }>(
    'SELECT event_type FROM events WHERE stream_id = $1 ORDER BY stream_revision',
    [scheduleStreamName(scheduleId)],
  );
  return rows.map((r) => r.event_type);
}

function expectProblem(res: HttpResponse, status: number, code: string, fields: string[] = []) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body.code).toBe(code);
  if (fields.length > 0) {
    const named = (res.body['invalid-params'] as { name: string }[]).map((p) => p.name);
    expect(named).toEqual(expect.arrayContaining(fields));
  }
}

/** A's schedule with one active appointment, opened and booked by A's hospital. */
async function aScheduleOfA(): Promise<{ scheduleId: string; appointmentId: string }> {
  const scheduleId = await openSchedule(h);
  const patientId = randomPatient();
  const booked = await as(hospitalA, '/v1/appointments', { scheduleId, patientId });
  expect(booked.status).toBe(201);
  return { scheduleId, appointmentId: String(booked.body.appointmentId) };
}

describe('a hospital acts only for its own institution', () => {
  it('h9 of institution B may not open a schedule for institution A: 403, nothing appended', async () => {
    const scheduleId = randomUUID();
    const res = await as(h9, '/v1/schedules', anOpenScheduleRequest(a, { scheduleId }));
    expectProblem(res, 403, 'forbidden');
    expect(String(res.body.detail)).toContain(`institution ${a.institutionId}`);
    expect(await eventsOf(scheduleId)).toEqual([]);
  });

  it("h9 may not change capacity, book, cancel or close on A's schedule: 403 each, nothing appended", async () => {
    const { scheduleId, appointmentId } = await aScheduleOfA();
    const before = await eventsOf(scheduleId);
    for (const [path, body] of [
      [`/v1/schedules/${scheduleId}/capacity`, { capacity: 9 }],
      ['/v1/appointments', { scheduleId, patientId: randomPatient() }],
      [`/v1/appointments/${appointmentId}/cancel`, {}],
      [`/v1/schedules/${scheduleId}/close`, { reason: 'not mine' }],
    ] as const) {
      const res = await as(h9, path, body);
      expectProblem(res, 403, 'forbidden');
      expect(String(res.body.detail), path).toContain('another institution');
    }
    expect(await eventsOf(scheduleId)).toEqual(before);
  });

  it("h9 may not confirm a payment, check in, mark a no-show, join or leave the waitlist, or switch rush mode on A's schedule: 403 each, nothing appended", async () => {
    const { scheduleId, appointmentId } = await aScheduleOfA();
    const before = await eventsOf(scheduleId);
    for (const [path, body] of [
      [
        `/v1/appointments/${appointmentId}/confirm-payment`,
        { paymentRef: `pay-${randomUUID()}`, amount: 5000 },
      ],
      [`/v1/appointments/${appointmentId}/check-in`, {}],
      [`/v1/appointments/${appointmentId}/no-show`, {}],
      [`/v1/schedules/${scheduleId}/waitlist`, { patientId: randomPatient() }],
      [`/v1/schedules/${scheduleId}/waitlist/${randomUUID()}/leave`, {}],
      [`/v1/schedules/${scheduleId}/rush`, { enabled: true }],
    ] as const) {
      const res = await as(h9, path, body);
      expectProblem(res, 403, 'forbidden');
      expect(String(res.body.detail), path).toContain('another institution');
    }
    expect(await eventsOf(scheduleId)).toEqual(before);
    const { rows } = await h.pool.query('SELECT 1 FROM rush_schedules WHERE schedule_id = $1 AND enabled', [
      scheduleId,
    ]);
    expect(rows).toEqual([]);
  });

  it("h9 may not read a booking request on A's schedule: 403; A's hospital may", async () => {
    const { scheduleId } = await aScheduleOfA();
    expect((await as(hospitalA, `/v1/schedules/${scheduleId}/rush`, { enabled: true })).status).toBe(200);
    // A request as the accept path stores it (no queue here: this file runs no rush processor).
    const requestId = randomUUID();
    await h.pool.query(
      `INSERT INTO booking_requests
         (request_id, appointment_id, schedule_id, principal, idem_key, key_created_at, patient_ref, status)
       VALUES ($1, $2, $3, $4, $5, now(), $6, 'pending')`,
      [requestId, randomUUID(), scheduleId, `patient:-:${randomPatient()}`, newKey(), `pr-${randomUUID()}`],
    );
    const read = async (principal: Principal) =>
      h.http.get(`/v1/booking-requests/${requestId}`, { token: await h.tokenFor(principal) });
    expectProblem(await read(h9), 403, 'forbidden');
    expect((await read(hospitalA)).status).toBe(200);
  });

  it('the refusal is stored with the key like any rejection: a retry replays it', async () => {
    const { scheduleId } = await aScheduleOfA();
    const key = newKey();
    const first = await as(h9, `/v1/schedules/${scheduleId}/capacity`, { capacity: 9 }, key);
    expectProblem(first, 403, 'forbidden');
    const again = await as(h9, `/v1/schedules/${scheduleId}/capacity`, { capacity: 9 }, key);
    expectProblem(again, 403, 'forbidden');
    expect(again.headers['idempotent-replayed']).toBe('true');
  });

  it('an unknown schedule stays 404 for a hospital', async () => {
    const res = await as(h9, `/v1/schedules/${randomUUID()}/capacity`, { capacity: 9 });
    expectProblem(res, 404, 'schedule_not_found');
  });

  it('h9 does all of it for its own institution', async () => {
    const opened = await as(h9, '/v1/schedules', anOpenScheduleRequest(b));
    expect(opened.status).toBe(201);
    const scheduleId = String(opened.body.scheduleId);
    expect((await as(h9, `/v1/schedules/${scheduleId}/capacity`, { capacity: 9 })).status).toBe(200);
    const booked = await as(h9, '/v1/appointments', { scheduleId, patientId: randomPatient() });
    expect(booked.status).toBe(201);
    const cancel = await as(h9, `/v1/appointments/${String(booked.body.appointmentId)}/cancel`, {});
    expect(cancel.status).toBe(200);
    expect((await as(h9, `/v1/schedules/${scheduleId}/close`, { reason: 'done' })).status).toBe(200);
    expect(await eventsOf(scheduleId)).toEqual([
      'ScheduleOpened',
      'CapacityChanged',
      'AppointmentBooked',
      'AppointmentCancelled',
      'ScheduleClosed',
    ]);
  });

  it("an admin acts on A's schedules without a tenancy", async () => {
    const opened = await as(admin, '/v1/schedules', anOpenScheduleRequest(a));
    expect(opened.status).toBe(201);
    const { scheduleId, appointmentId } = await aScheduleOfA();
    expect((await as(admin, `/v1/schedules/${scheduleId}/capacity`, { capacity: 9 })).status).toBe(200);
    const booked = await as(admin, '/v1/appointments', { scheduleId, patientId: randomPatient() });
    expect(booked.status).toBe(201);
    expect((await as(admin, `/v1/appointments/${appointmentId}/cancel`, {})).status).toBe(200);
    expect((await as(admin, `/v1/schedules/${scheduleId}/close`, { reason: 'admin' })).status).toBe(200);
  });

  it('a patient cancels only their own appointment', async () => {
    const { appointmentId } = await aScheduleOfA();
    const stranger = await as(
      { sub: randomPatient(), role: 'patient' },
      `/v1/appointments/${appointmentId}/cancel`,
      {},
    );
    expectProblem(stranger, 403, 'forbidden');
  });
});

describe('opening a schedule checks the catalog', () => {
  const open = (body: unknown, principal: Principal = hospitalA, key = newKey()) =>
    as(principal, '/v1/schedules', body, key);

  it('400 naming the field for an id that is not a catalog id', async () => {
    for (const field of ['doctorId', 'institutionId', 'departmentId']) {
      const res = await open(anOpenScheduleRequest(a, { [field]: 'doctor-1' }));
      expectProblem(res, 400, 'validation_failed', [field]);
    }
    expectProblem(await open(anOpenScheduleRequest(a, { doctorId: '007' })), 400, 'validation_failed', [
      'doctorId',
    ]);
  });

  it('422 catalog_reference_invalid naming doctorId for an unknown doctor, stored with the key', async () => {
    const body = anOpenScheduleRequest(a, { doctorId: '999999999999' });
    const key = newKey();
    expectProblem(await open(body, hospitalA, key), 422, 'catalog_reference_invalid', ['doctorId']);
    const replayed = await open(body, hospitalA, key);
    expectProblem(replayed, 422, 'catalog_reference_invalid', ['doctorId']);
    expect(replayed.headers['idempotent-replayed']).toBe('true');
  });

  it("422 naming institutionId for a doctor of another institution, departmentId for another department's", async () => {
    const elsewhere = await open(anOpenScheduleRequest(a, { doctorId: b.doctorId }));
    expectProblem(elsewhere, 422, 'catalog_reference_invalid', ['institutionId']);
    const colleague = await givenCatalogDoctor(h.pool, { institutionId: a.institutionId });
    const otherDepartment = await open(anOpenScheduleRequest(a, { doctorId: colleague.doctorId }));
    expectProblem(otherDepartment, 422, 'catalog_reference_invalid', ['departmentId']);
    expect(await open(anOpenScheduleRequest(colleague))).toMatchObject({ status: 201 });
  });

  it('422 naming doctorId for an inactive doctor, institutionId for a suspended institution', async () => {
    const inactive = await givenCatalogDoctor(h.pool, {
      institutionId: a.institutionId,
      doctorStatus: 'inactive',
    });
    expectProblem(await open(anOpenScheduleRequest(inactive)), 422, 'catalog_reference_invalid', [
      'doctorId',
    ]);
    const suspended = await givenCatalogDoctor(h.pool, { institutionStatus: 'suspended' });
    const ownHospital: Principal = { sub: 'h-s', role: 'hospital', institutionId: suspended.institutionId };
    const res = await open(anOpenScheduleRequest(suspended), ownHospital);
    expectProblem(res, 422, 'catalog_reference_invalid', ['institutionId']);
    expect(String(res.body['invalid-params'][0].reason)).toContain('suspended');
  });

  it('422 date_outside_horizon naming date before today and past 90 days; the 90th day opens', async () => {
    const today = hospitalToday();
    for (const date of [addDays(today, -1), addDays(today, 91)]) {
      const res = await open(anOpenScheduleRequest(a, { date }));
      expectProblem(res, 422, 'date_outside_horizon', ['date']);
      expect(String(res.body.detail)).toContain(`${today} to ${addDays(today, 90)}`);
    }
    const lastDay = await open(anOpenScheduleRequest(a, { date: addDays(today, 90), period: 'evening' }));
    expect(lastDay.status).toBe(201);
  });
});

describe('one open schedule per doctor, date and period', () => {
  const session = async (doctor: CatalogDoctorIds, date: string) => {
    const { rows } = await h.pool.query<{ schedule_id: string }>(
      'SELECT schedule_id FROM open_sessions WHERE doctor_id = $1 AND date = $2',
      [doctor.doctorId, date],
    );
    return rows.map((r) => r.schedule_id);
  };

  it('409 session_already_scheduled for a second open, stored with the key; free again once closed', async () => {
    const body = anOpenScheduleRequest(a, { period: 'afternoon' });
    const first = await as(hospitalA, '/v1/schedules', body);
    expect(first.status).toBe(201);
    const key = newKey();
    const second = await as(hospitalA, '/v1/schedules', body, key);
    expectProblem(second, 409, 'session_already_scheduled', ['doctorId', 'date', 'period']);
    expect(String(second.body.detail)).toContain(String(first.body.scheduleId));
    const replayed = await as(hospitalA, '/v1/schedules', body, key);
    expectProblem(replayed, 409, 'session_already_scheduled');
    expect(replayed.headers['idempotent-replayed']).toBe('true');
    expect(await session(a, body.date)).toEqual([first.body.scheduleId]);

    const closed = await as(hospitalA, `/v1/schedules/${String(first.body.scheduleId)}/close`, {
      reason: 'moved',
    });
    expect(closed.status).toBe(200);
    expect(await session(a, body.date)).toEqual([]);
    const reopened = await as(hospitalA, '/v1/schedules', body);
    expect(reopened.status).toBe(201);
    expect(await session(a, body.date)).toEqual([reopened.body.scheduleId]);
  });

  it('of concurrent opens of one session exactly one commits: one 201, the others 409', async () => {
    const doctor = await givenCatalogDoctor(h.pool, { institutionId: a.institutionId });
    const date = nextSessionDate();
    const token = await h.tokenFor(hospitalA);
    const results = await Promise.all(
      Array.from({ length: 6 }, () =>
        h.http.post('/v1/schedules', {
          token,
          idempotencyKey: newKey(),
          body: anOpenScheduleRequest(doctor, { date, period: 'morning' }),
        }),
      ),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([201, 409, 409, 409, 409, 409]);
    for (const r of results.filter((x) => x.status === 409))
      expect(r.body.code).toBe('session_already_scheduled');
    const winner = results.find((r) => r.status === 201)!.body.scheduleId;
    expect(await session(doctor, date)).toEqual([winner]);
    const { rows } = await h.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM events
        WHERE event_type = 'ScheduleOpened' AND data->>'doctorId' = $1 AND data->>'date' = $2`,
      [doctor.doctorId, date],
    );
    expect(Number(rows[0]?.n)).toBe(1);
  });
});
