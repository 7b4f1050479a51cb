/**
 * Numbered slots through the real command API (docs/adr/0012): holds confirmed and expired, the
 * waitlist offer an expiry makes, the deadline poller, and the per-patient rules under concurrency.
 * Each test opens schedules of its harness's own catalog doctor; the harness clock is moved forward
 * to make holds due (the poller claims by, and the decider judges with, that clock).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { scheduleStreamName } from '../../domain/schedule.ts';
import {
  type Harness,
  newKey,
  openSchedule,
  randomPatient,
  startCommandApi,
} from '../support/command-api-harness.ts';
import type { CommandApiDeps } from '../../command-api/app.ts';
import type { Config } from '../../platform/config.ts';

let h: Harness;
/** The at-most-N rule's N, low so that a patient reaches it in a few bookings. */
const MAX_ACTIVE = 3;
/** Merged by the harness over the environment's configuration: the poller's interval and N change. */
const pollByHand = {
  DEADLINE_POLL_MS: 0,
  PATIENT_MAX_ACTIVE: MAX_ACTIVE,
} satisfies Partial<Config> as CommandApiDeps['config'];
const admin = { sub: 'admin-slots', role: 'admin' } as const;

beforeAll(async () => {
  // The poller is driven by hand (pollOnce) so each test says when deadlines fire.
  h = await startCommandApi({
    poolSize: 20,
    maxSockets: 200,
    config: pollByHand,
  });
});

afterAll(async () => {
  await h.stop();
});

afterEach(() => {
  h.clock.now = () => new Date();
});

const plan = (count: number) => ({ firstSlotTime: '08:00', intervalMinutes: 10, count });

const openNumbered = (count: number, overrides: Record<string, unknown> = {}) =>
  openSchedule(h, { capacity: count, slots: plan(count), ...overrides });

async function bookSlot(scheduleId: string, patientId: string, extra: Record<string, unknown> = {}) {
  return h.http.post('/v1/appointments', {
    token: await h.tokenFor({ sub: patientId, role: 'patient' }),
    idempotencyKey: newKey(),
    body: { scheduleId, patientId, ...extra },
  });
}

async function pay(appointmentId: string, paymentRef: string, amount = 5000) {
  return h.http.post(`/v1/appointments/${appointmentId}/confirm-payment`, {
    token: await h.tokenFor(admin),
    idempotencyKey: newKey(),
    body: { paymentRef, amount },
  });
}

async function joinWaitlist(scheduleId: string, patientId: string) {
  return h.http.post(`/v1/schedules/${scheduleId}/waitlist`, {
    token: await h.tokenFor({ sub: patientId, role: 'patient' }),
    idempotencyKey: newKey(),
    body: { patientId },
  });
}

async function eventsOf(scheduleId: string) {
  const { rows } = await h.pool.query<{ event_type: string; data: Record<string, unknown> }>(
    'SELECT event_type, data FROM events WHERE stream_id = $1 ORDER BY stream_revision',
    [scheduleStreamName(scheduleId)],
  );
  return rows.map((r) => ({ type: r.event_type, data: r.data }));
}

async function deadlinesOf(subjects: readonly string[]) {
  const { rows } = await h.pool.query<{ kind: string; subject: string }>(
    'SELECT kind, subject FROM deadlines WHERE subject = ANY($1::text[]) ORDER BY due_at',
    [subjects],
  );
  return rows;
}

const minutesFromNow = (minutes: number) => {
  const at = Date.now() + minutes * 60_000;
  return () => new Date(at);
};

describe('a hold', () => {
  it('is confirmed by a payment, idempotently by its reference, and its deadline goes with it', async () => {
    const scheduleId = await openNumbered(3);
    const booked = await bookSlot(scheduleId, randomPatient());
    expect(booked.status).toBe(201);
    const appointmentId = String(booked.body.appointmentId);
    expect(booked.body).toMatchObject({ slot: 1, status: 'active' });
    const holdExpiresAt = Date.parse(String(booked.body.holdExpiresAt));
    expect(holdExpiresAt - Date.now()).toBeGreaterThan(14 * 60_000);
    expect(await deadlinesOf([appointmentId])).toEqual([{ kind: 'hold_expiry', subject: appointmentId }]);

    const paid = await pay(appointmentId, 'pay-1');
    expect(paid.status).toBe(200);
    expect(paid.body).toMatchObject({ status: 'confirmed', paymentRef: 'pay-1' });
    expect(await deadlinesOf([appointmentId])).toEqual([]);
    // The same payment again (a duplicate webhook, a new key): 200, nothing new.
    expect((await pay(appointmentId, 'pay-1')).status).toBe(200);
    const other = await pay(appointmentId, 'pay-2');
    expect([other.status, other.body.code]).toEqual([409, 'payment_ref_conflict']);
    const types = (await eventsOf(scheduleId)).map((e) => e.type);
    expect(types).toEqual([
      'ScheduleOpened',
      'SlotsReleased',
      'AppointmentBooked',
      'SlotTaken',
      'PaymentConfirmed',
    ]);

    // Its deadline passes: nothing is due any more, the poller fires nothing for it.
    h.clock.now = minutesFromNow(20);
    await h.api.deadlines.pollOnce();
    expect((await eventsOf(scheduleId)).filter((e) => e.type === 'HoldExpired')).toEqual([]);
  });

  it('expires once at its deadline; the slot is offered to the first waiting patient, then to nobody', async () => {
    const scheduleId = await openNumbered(1);
    const first = await bookSlot(scheduleId, randomPatient());
    const appointmentId = String(first.body.appointmentId);
    const waiting = randomPatient();
    const full = await bookSlot(scheduleId, waiting);
    expect([full.status, full.body.code]).toEqual([409, 'schedule_full']);
    const joined = await joinWaitlist(scheduleId, waiting);
    expect(joined.status).toBe(201);
    const entryId = String(joined.body.entryId);

    // Before the deadline the poller claims nothing of it.
    await h.api.deadlines.pollOnce();
    expect((await eventsOf(scheduleId)).map((e) => e.type)).not.toContain('HoldExpired');

    h.clock.now = minutesFromNow(16);
    await h.api.deadlines.pollOnce();
    await h.api.deadlines.pollOnce();
    const events = await eventsOf(scheduleId);
    const expired = events.filter((e) => e.type === 'HoldExpired');
    expect(expired.map((e) => e.data.appointmentId)).toEqual([appointmentId]);
    const offered = events.filter((e) => e.type === 'SlotTaken' && e.data.source === 'waitlist');
    expect(offered.map((e) => [e.data.appointmentId, e.data.slot])).toEqual([[entryId, 1]]);
    // The expired hold's deadline is gone; the offer's own is set.
    expect(await deadlinesOf([appointmentId, entryId])).toEqual([{ kind: 'hold_expiry', subject: entryId }]);

    // A payment arriving now is refused: the payment side refunds it.
    const late = await pay(appointmentId, 'pay-late');
    expect([late.status, late.body.code]).toEqual([409, 'hold_expired']);

    // The offer is paid by the waiting patient (its appointment id is the entry's).
    expect((await pay(entryId, 'pay-offer')).status).toBe(200);
    expect(await deadlinesOf([entryId])).toEqual([]);
  });

  it('fired twice (two pollers, a lease run out) still expires once', async () => {
    const scheduleId = await openNumbered(2);
    const booked = await bookSlot(scheduleId, randomPatient());
    const appointmentId = String(booked.body.appointmentId);
    h.clock.now = minutesFromNow(16);
    // A poller that died after claiming: its lease is in the past, so the next poll takes over.
    await h.pool.query(
      `UPDATE deadlines SET claimed_until = now() - interval '1 second', claimed_by = 'dead' WHERE subject = $1`,
      [appointmentId],
    );
    await Promise.all([h.api.deadlines.pollOnce(), h.api.deadlines.pollOnce(), h.api.deadlines.pollOnce()]);
    const expired = (await eventsOf(scheduleId)).filter((e) => e.type === 'HoldExpired');
    expect(expired).toHaveLength(1);
    expect(await deadlinesOf([appointmentId])).toEqual([]);
    // The slot is free again.
    const again = await bookSlot(scheduleId, randomPatient(), { slot: 1 });
    expect([again.status, again.body.slot]).toEqual([201, 1]);
  });
});

describe('the per-patient rules', () => {
  it('one patient booking the same doctor on one day twice at once: exactly one 201', async () => {
    const outcomes: string[] = [];
    for (let round = 0; round < 5; round++) {
      const morning = await openNumbered(5, { fee: 0 });
      const { rows } = await h.pool.query<{ date: string }>(
        `SELECT data->>'date' AS date FROM events WHERE stream_id = $1 AND event_type = 'ScheduleOpened'`,
        [scheduleStreamName(morning)],
      );
      const afternoon = await openSchedule(h, {
        capacity: 5,
        fee: 0,
        date: rows[0]!.date,
        period: 'afternoon',
        slots: { firstSlotTime: '13:00', intervalMinutes: 10, count: 5 },
      });
      const patient = randomPatient();
      const responses = await Promise.all([bookSlot(morning, patient), bookSlot(afternoon, patient)]);
      const labels = responses.map((r) => (r.status === 201 ? '201' : `${r.status} ${String(r.body.code)}`));
      outcomes.push(...labels);
      expect(labels.sort()).toEqual(['201', '409 one_per_doctor_per_day']);
    }
    console.log(`per-patient rule under concurrency, 5 rounds: ${outcomes.join(', ')}`);
  });

  it('a patient one short of PATIENT_MAX_ACTIVE booking two schedules at once: exactly one 201', async () => {
    // Two schedules on different days (streams of their own, no one_per_doctor_per_day): only the
    // per-patient lock keeps the two appends from both passing the count.
    const outcomes: string[] = [];
    for (let round = 0; round < 3; round++) {
      const patient = randomPatient();
      for (let i = 0; i < MAX_ACTIVE - 1; i++)
        expect((await bookSlot(await openNumbered(2, { fee: 0 }), patient)).status).toBe(201);
      const [a, b] = [await openNumbered(2, { fee: 0 }), await openNumbered(2, { fee: 0 })];
      const responses = await Promise.all([bookSlot(a, patient), bookSlot(b, patient)]);
      const labels = responses.map((r) => (r.status === 201 ? '201' : `${r.status} ${String(r.body.code)}`));
      outcomes.push(...labels);
      expect(labels.sort()).toEqual(['201', '409 too_many_active']);
    }
    console.log(`at most ${MAX_ACTIVE} active under concurrency, 3 rounds: ${outcomes.join(', ')}`);
  });

  it('capacity-only schedules are not subject to them (unchanged behaviour)', async () => {
    const morning = await openSchedule(h, { capacity: 5 });
    const { rows } = await h.pool.query<{ date: string }>(
      `SELECT data->>'date' AS date FROM events WHERE stream_id = $1 AND event_type = 'ScheduleOpened'`,
      [scheduleStreamName(morning)],
    );
    const afternoon = await openSchedule(h, { capacity: 5, date: rows[0]!.date, period: 'afternoon' });
    const patient = randomPatient();
    expect((await bookSlot(morning, patient)).status).toBe(201);
    expect((await bookSlot(afternoon, patient)).status).toBe(201);
  });
});

describe('attendance, tenancy and validation', () => {
  async function sessionStartOf(scheduleId: string): Promise<number> {
    const { rows } = await h.pool.query<{ at: string }>(
      `SELECT data->>'sessionStartsAt' AS at FROM events WHERE stream_id = $1 AND event_type = 'ScheduleOpened'`,
      [scheduleStreamName(scheduleId)],
    );
    return Date.parse(rows[0]!.at);
  }

  const attend = async (appointmentId: string, kind: 'check-in' | 'no-show', principal = h.hospital) =>
    h.http.post(`/v1/appointments/${appointmentId}/${kind}`, {
      token: await h.tokenFor(principal),
      idempotencyKey: newKey(),
      body: {},
    });

  it('the hospital checks a patient in and marks a no-show (once each); another institution may not', async () => {
    const scheduleId = await openNumbered(3, { fee: 0 });
    const came = String((await bookSlot(scheduleId, randomPatient())).body.appointmentId);
    const missed = String((await bookSlot(scheduleId, randomPatient())).body.appointmentId);
    const early = await attend(came, 'check-in');
    expect([early.status, early.body.code]).toEqual([409, 'too_early']);

    const start = await sessionStartOf(scheduleId);
    h.clock.now = () => new Date(start);
    const stranger = { sub: 'hospital-x', role: 'hospital', institutionId: '999999999' } as const;
    const foreign = await attend(came, 'check-in', stranger);
    expect([foreign.status, foreign.body.code]).toEqual([403, 'forbidden']);
    expect((await attend(came, 'check-in')).body).toMatchObject({ status: 'checked_in' });
    expect((await attend(came, 'check-in')).status).toBe(200);
    const tooSoon = await attend(missed, 'no-show');
    expect([tooSoon.status, tooSoon.body.code]).toEqual([409, 'too_early']);

    h.clock.now = () => new Date(start + 31 * 60_000);
    expect((await attend(missed, 'no-show')).body).toMatchObject({ status: 'no_show' });
    const types = (await eventsOf(scheduleId)).map((e) => e.type);
    expect(types.filter((t) => t === 'PatientCheckedIn' || t === 'NoShowMarked')).toEqual([
      'PatientCheckedIn',
      'NoShowMarked',
    ]);
    const { rows } = await h.pool.query<{ appointment_id: string; status: string }>(
      'SELECT appointment_id, status FROM patient_bookings WHERE appointment_id = ANY($1::uuid[]) ORDER BY status',
      [[came, missed]],
    );
    expect(rows).toEqual([
      { appointment_id: came, status: 'ended' },
      { appointment_id: missed, status: 'no_show' },
    ]);
  });

  it('refuses a slot plan whose count is not the capacity, slot commands on a capacity-only schedule, and a patient on a reserved channel', async () => {
    const hospital = await h.tokenFor(h.hospital);
    const mismatch = await h.http.post('/v1/schedules', {
      token: hospital,
      idempotencyKey: newKey(),
      body: { ...h.catalog, date: '2099-01-01', period: 'morning', capacity: 4, fee: 0, slots: plan(3) },
    });
    expect([mismatch.status, mismatch.body.code]).toEqual([400, 'validation_failed']);

    const plain = await openSchedule(h, { capacity: 2 });
    const slotOnPlain = await bookSlot(plain, randomPatient(), { slot: 1 });
    expect([slotOnPlain.status, slotOnPlain.body.code]).toEqual([422, 'not_numbered']);
    const waitOnPlain = await joinWaitlist(plain, randomPatient());
    expect([waitOnPlain.status, waitOnPlain.body.code]).toEqual([422, 'not_numbered']);

    const numbered = await openNumbered(2);
    const onsite = await bookSlot(numbered, randomPatient(), { channel: 'onsite' });
    expect([onsite.status, onsite.body.code]).toEqual([403, 'forbidden']);
  });
});

describe('offers', () => {
  it('a reservation released at its time is offered to the waiting patient (deadline slot_release)', async () => {
    const releasesAt = new Date(Date.now() + 60 * 60_000).toISOString();
    const scheduleId = await openNumbered(2, {
      fee: 0,
      slots: { ...plan(2), reservations: [{ channel: 'onsite', from: 1, to: 2, releasesAt }] },
    });
    const patient = randomPatient();
    const reserved = await bookSlot(scheduleId, patient);
    expect([reserved.status, reserved.body.code]).toEqual([409, 'schedule_full']);
    const joined = await joinWaitlist(scheduleId, patient);
    expect(joined.status).toBe(201);
    expect(await deadlinesOf([scheduleId])).toEqual([{ kind: 'slot_release', subject: scheduleId }]);

    h.clock.now = minutesFromNow(61);
    await h.api.deadlines.pollOnce();
    const offered = (await eventsOf(scheduleId)).filter((e) => e.type === 'SlotTaken');
    expect(
      offered.map((e) => [e.data.appointmentId, e.data.slot, e.data.source, e.data.holdExpiresAt]),
    ).toEqual([[joined.body.entryId, 1, 'waitlist', null]]);
    expect(await deadlinesOf([scheduleId])).toEqual([]);
  });

  it('skips a waiting patient the per-patient rules bar, and offers to the next', async () => {
    const first = await openNumbered(1);
    const { rows } = await h.pool.query<{ date: string }>(
      `SELECT data->>'date' AS date FROM events WHERE stream_id = $1 AND event_type = 'ScheduleOpened'`,
      [scheduleStreamName(first)],
    );
    const other = await openSchedule(h, {
      capacity: 1,
      fee: 0,
      date: rows[0]!.date,
      period: 'afternoon',
      slots: { firstSlotTime: '13:00', intervalMinutes: 10, count: 1 },
    });
    const holder = String((await bookSlot(first, randomPatient())).body.appointmentId);
    const [barred, next] = [randomPatient(), randomPatient()];
    expect((await joinWaitlist(first, barred)).status).toBe(201);
    const nextEntry = String((await joinWaitlist(first, next)).body.entryId);
    // The first in the queue takes an appointment with the same doctor that day, elsewhere.
    expect((await bookSlot(other, barred)).status).toBe(201);

    h.clock.now = minutesFromNow(16);
    await h.api.deadlines.pollOnce();
    const events = await eventsOf(first);
    expect(events.filter((e) => e.type === 'HoldExpired').map((e) => e.data.appointmentId)).toEqual([holder]);
    expect(
      events
        .filter((e) => e.type === 'SlotTaken' && e.data.source === 'waitlist')
        .map((e) => e.data.appointmentId),
    ).toEqual([nextEntry]);
  });
});
