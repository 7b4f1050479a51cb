import { describe, expect, it } from 'vitest';
import {
  decide,
  fold,
  type ScheduleCommand,
  type ScheduleErrorCode,
  type ScheduleEvent,
} from '../../domain/schedule.ts';
import { addDays, hospitalDateAt, isCalendarDate, sessionStart } from '../../domain/session-time.ts';
import {
  aBooking,
  aCancellation,
  aCapacityChange,
  aClosure,
  admin,
  anAppointmentBooked,
  anOpenSchedule,
  aScheduleOpened,
  hospital,
  patient,
} from '../support/schedule-mother.ts';

/** Given past events, when a command is decided, then these events (or this error). */
function given(...history: ScheduleEvent[]) {
  return {
    when(command: ScheduleCommand) {
      const decision = decide(command, fold(history));
      return {
        then(expected: ScheduleEvent[]) {
          expect(decision).toEqual({ ok: true, events: expected });
        },
        thenRejectedWith(code: ScheduleErrorCode) {
          expect(decision.ok).toBe(false);
          if (!decision.ok) expect(decision.error.code).toBe(code);
        },
      };
    },
  };
}

describe('session time', () => {
  it('starts sessions at 08:00, 13:00 and 18:00 Asia/Shanghai (UTC+8, no DST)', () => {
    expect(sessionStart('2030-01-15', 'morning').toISOString()).toBe('2030-01-15T00:00:00.000Z');
    expect(sessionStart('2030-07-15', 'afternoon').toISOString()).toBe('2030-07-15T05:00:00.000Z');
    expect(sessionStart('2030-01-15', 'evening').toISOString()).toBe('2030-01-15T10:00:00.000Z');
  });

  it('cuts the hospital day at midnight UTC+8 and counts calendar days across months', () => {
    expect(hospitalDateAt(new Date('2030-01-09T15:59:59Z'))).toBe('2030-01-09');
    expect(hospitalDateAt(new Date('2030-01-09T16:00:00Z'))).toBe('2030-01-10');
    expect(addDays('2030-01-31', 1)).toBe('2030-02-01');
    expect(addDays('2028-02-28', 1)).toBe('2028-02-29');
    expect(addDays('2030-01-10', 90)).toBe('2030-04-10');
  });

  it('accepts only real calendar dates', () => {
    expect(isCalendarDate('2028-02-29')).toBe(true);
    expect(isCalendarDate('2027-02-29')).toBe(false);
    expect(isCalendarDate('2030-13-01')).toBe(false);
    expect(isCalendarDate('2030-1-01')).toBe(false);
  });
});

describe('OpenSchedule', () => {
  it('opens a schedule for a future session', () => {
    const cmd = anOpenSchedule({ capacity: 10, period: 'afternoon' });
    given()
      .when(cmd)
      .then([
        {
          type: 'ScheduleOpened',
          data: {
            scheduleId: cmd.scheduleId,
            doctorId: cmd.doctorId,
            institutionId: cmd.institutionId,
            departmentId: cmd.departmentId,
            date: cmd.date,
            period: 'afternoon',
            sessionStartsAt: '2030-01-15T05:00:00.000Z',
            capacity: 10,
            fee: cmd.fee,
            openedBy: cmd.actor,
            openedAt: cmd.now.toISOString(),
          },
        },
      ]);
  });

  it('rejects opening the same schedule twice', () => {
    given(aScheduleOpened()).when(anOpenSchedule()).thenRejectedWith('schedule_already_exists');
  });

  it.each([0, 1001, 2.5, -1])('rejects capacity %s (must be an integer 1..1000)', (capacity) => {
    given().when(anOpenSchedule({ capacity })).thenRejectedWith('invalid_command');
  });

  it('accepts the capacity bounds 1 and 1000', () => {
    expect(decide(anOpenSchedule({ capacity: 1 }), fold([])).ok).toBe(true);
    expect(decide(anOpenSchedule({ capacity: 1000 }), fold([])).ok).toBe(true);
  });

  it('rejects an impossible date and a negative fee', () => {
    given()
      .when(anOpenSchedule({ date: '2030-02-30' }))
      .thenRejectedWith('invalid_command');
    given()
      .when(anOpenSchedule({ fee: -1 }))
      .thenRejectedWith('invalid_command');
  });

  it('given the hospital date, when the date lies before today, then it is outside the horizon', () => {
    // 2030-01-10 00:30 in Shanghai is still 2030-01-09 in UTC: the hospital's day counts.
    const now = new Date('2030-01-09T16:30:00Z');
    given()
      .when(anOpenSchedule({ date: '2030-01-09', now }))
      .thenRejectedWith('date_outside_horizon');
    expect(decide(anOpenSchedule({ date: '2030-01-10', period: 'evening', now }), fold([])).ok).toBe(true);
  });

  it('given a horizon of 90 days, when the date is 90 days ahead it opens, 91 days ahead it is refused', () => {
    const now = new Date('2030-01-10T02:00:00Z'); // hospital date 2030-01-10
    expect(decide(anOpenSchedule({ date: '2030-04-10', now }), fold([])).ok).toBe(true);
    const decision = decide(anOpenSchedule({ date: '2030-04-11', now }), fold([]));
    expect(decision).toEqual({
      ok: false,
      error: {
        code: 'date_outside_horizon',
        date: '2030-04-11',
        earliest: '2030-01-10',
        latest: '2030-04-10',
      },
    });
  });

  it('rejects a session that has already started', () => {
    given()
      .when(anOpenSchedule({ now: new Date('2030-01-15T00:00:00.000Z') }))
      .thenRejectedWith('session_started');
  });
});

describe('BookAppointment', () => {
  it('books an appointment on an open schedule with room', () => {
    const opened = aScheduleOpened();
    const cmd = aBooking(opened.data.scheduleId);
    given(opened)
      .when(cmd)
      .then([
        {
          type: 'AppointmentBooked',
          data: {
            scheduleId: opened.data.scheduleId,
            appointmentId: cmd.appointmentId,
            patientRef: cmd.patientRef,
            patient: cmd.patient,
            bookedAt: cmd.now.toISOString(),
          },
        },
      ]);
  });

  it('rejects booking an unknown schedule', () => {
    given().when(aBooking('nope')).thenRejectedWith('schedule_not_found');
  });

  it('never books more active appointments than capacity', () => {
    const opened = aScheduleOpened({ capacity: 2 });
    const id = opened.data.scheduleId;
    given(opened, anAppointmentBooked(id), anAppointmentBooked(id))
      .when(aBooking(id))
      .thenRejectedWith('schedule_full');
  });

  it('frees a place when an appointment is cancelled', () => {
    const opened = aScheduleOpened({ capacity: 1 });
    const id = opened.data.scheduleId;
    const booked = anAppointmentBooked(id);
    const cancelled = decide(aCancellation(booked.data.appointmentId), fold([opened, booked]));
    expect(cancelled.ok).toBe(true);
    if (!cancelled.ok) return;
    expect(decide(aBooking(id), fold([opened, booked, ...cancelled.events])).ok).toBe(true);
  });

  it('lets a patient hold at most one active appointment per schedule', () => {
    const opened = aScheduleOpened();
    const id = opened.data.scheduleId;
    given(opened, anAppointmentBooked(id, { patientRef: 'p1' }))
      .when(aBooking(id, { patientRef: 'p1' }))
      .thenRejectedWith('already_booked');
  });

  it('lets a patient book again after cancelling', () => {
    const opened = aScheduleOpened();
    const id = opened.data.scheduleId;
    const booked = anAppointmentBooked(id, { patientRef: 'p1' });
    const cancel = decide(
      aCancellation(booked.data.appointmentId, { actor: patient('p1') }),
      fold([opened, booked]),
    );
    if (!cancel.ok) throw new Error('expected cancel to succeed');
    expect(decide(aBooking(id, { patientRef: 'p1' }), fold([opened, booked, ...cancel.events])).ok).toBe(
      true,
    );
  });

  it('rejects booking on a closed schedule', () => {
    const opened = aScheduleOpened();
    const id = opened.data.scheduleId;
    const closed = decide(aClosure(), fold([opened]));
    if (!closed.ok) throw new Error('expected close to succeed');
    given(opened, ...closed.events)
      .when(aBooking(id))
      .thenRejectedWith('schedule_closed');
  });

  it('rejects booking once the session has started (and at its first instant)', () => {
    const opened = aScheduleOpened({ date: '2030-01-15', period: 'morning' });
    const id = opened.data.scheduleId;
    given(opened)
      .when(aBooking(id, { now: new Date('2030-01-15T00:00:00.000Z') }))
      .thenRejectedWith('session_started');
    given(opened)
      .when(aBooking(id, { now: new Date('2030-01-15T03:00:00.000Z') }))
      .thenRejectedWith('session_started');
    expect(decide(aBooking(id, { now: new Date('2030-01-14T23:59:59.999Z') }), fold([opened])).ok).toBe(true);
  });

  it('rejects an appointment id already used in the schedule', () => {
    const opened = aScheduleOpened();
    const id = opened.data.scheduleId;
    const booked = anAppointmentBooked(id);
    given(opened, booked)
      .when(aBooking(id, { appointmentId: booked.data.appointmentId }))
      .thenRejectedWith('appointment_id_taken');
  });
});

describe('CancelAppointment', () => {
  const opened = aScheduleOpened();
  const id = opened.data.scheduleId;
  const booked = anAppointmentBooked(id, { patientRef: 'p1' });

  it('lets the patient cancel their own appointment', () => {
    const cmd = aCancellation(booked.data.appointmentId, { actor: patient('p1'), reason: 'feeling better' });
    given(opened, booked)
      .when(cmd)
      .then([
        {
          type: 'AppointmentCancelled',
          data: {
            scheduleId: id,
            appointmentId: booked.data.appointmentId,
            patientRef: 'p1',
            reason: 'feeling better',
            cancelledBy: patient('p1'),
            cancelledAt: cmd.now.toISOString(),
          },
        },
      ]);
  });

  it('compares patients by reference: a patient without a key (forgotten) holds nothing', () => {
    // The command API names a patient actor by their reference, and one without a key by a
    // reference no appointment has: the anonymous appointment of a forgotten patient stays theirs
    // to nobody.
    given(opened, booked)
      .when(aCancellation(booked.data.appointmentId, { actor: patient('no-patient-key') }))
      .thenRejectedWith('not_appointment_holder');
  });

  it.each([hospital(), admin()])('lets the $role cancel any appointment', (actor) => {
    const decision = decide(aCancellation(booked.data.appointmentId, { actor }), fold([opened, booked]));
    expect(decision.ok).toBe(true);
  });

  it("forbids a patient from cancelling someone else's appointment", () => {
    given(opened, booked)
      .when(aCancellation(booked.data.appointmentId, { actor: patient('p2') }))
      .thenRejectedWith('not_appointment_holder');
  });

  it('cancels only an active appointment', () => {
    const cancelled = decide(aCancellation(booked.data.appointmentId), fold([opened, booked]));
    if (!cancelled.ok) throw new Error('expected cancel to succeed');
    given(opened, booked, ...cancelled.events)
      .when(aCancellation(booked.data.appointmentId))
      .thenRejectedWith('appointment_not_active');
  });

  it('rejects an unknown appointment', () => {
    given(opened, booked).when(aCancellation('unknown')).thenRejectedWith('appointment_not_found');
    given().when(aCancellation('unknown')).thenRejectedWith('appointment_not_found');
  });
});

describe('ChangeCapacity', () => {
  const opened = aScheduleOpened({ capacity: 3 });
  const id = opened.data.scheduleId;

  it('raises or lowers capacity', () => {
    const cmd = aCapacityChange(5);
    given(opened)
      .when(cmd)
      .then([
        {
          type: 'CapacityChanged',
          data: {
            scheduleId: id,
            previousCapacity: 3,
            capacity: 5,
            changedBy: cmd.actor,
            changedAt: cmd.now.toISOString(),
          },
        },
      ]);
  });

  it('never drops capacity below the active appointment count', () => {
    given(opened, anAppointmentBooked(id), anAppointmentBooked(id))
      .when(aCapacityChange(1))
      .thenRejectedWith('capacity_below_active');
  });

  it('allows capacity equal to the active count', () => {
    const decision = decide(
      aCapacityChange(2),
      fold([opened, anAppointmentBooked(id), anAppointmentBooked(id)]),
    );
    expect(decision.ok).toBe(true);
  });

  it('records nothing when the capacity is unchanged', () => {
    given(opened).when(aCapacityChange(3)).then([]);
  });

  it('rejects out-of-range capacity, unknown and closed schedules', () => {
    given(opened).when(aCapacityChange(0)).thenRejectedWith('invalid_command');
    given(opened).when(aCapacityChange(1001)).thenRejectedWith('invalid_command');
    given().when(aCapacityChange(5)).thenRejectedWith('schedule_not_found');
    const closed = decide(aClosure(), fold([opened]));
    if (!closed.ok) throw new Error('expected close to succeed');
    given(opened, ...closed.events)
      .when(aCapacityChange(5))
      .thenRejectedWith('schedule_closed');
  });
});

describe('CloseSchedule', () => {
  it('cancels every active appointment with the reason, then closes', () => {
    const opened = aScheduleOpened();
    const id = opened.data.scheduleId;
    const a = anAppointmentBooked(id, { patientRef: 'p1' });
    const b = anAppointmentBooked(id, { patientRef: 'p2' });
    const c = anAppointmentBooked(id, { patientRef: 'p3' });
    const cancelB = decide(aCancellation(b.data.appointmentId), fold([opened, a, b, c]));
    if (!cancelB.ok) throw new Error('expected cancel to succeed');
    const actor = admin();
    const cmd = aClosure({ reason: 'doctor ill', actor });
    const at = cmd.now.toISOString();
    given(opened, a, b, c, ...cancelB.events)
      .when(cmd)
      .then([
        {
          type: 'AppointmentCancelled',
          data: {
            scheduleId: id,
            appointmentId: a.data.appointmentId,
            patientRef: 'p1',
            reason: 'doctor ill',
            cancelledBy: actor,
            cancelledAt: at,
          },
        },
        {
          type: 'AppointmentCancelled',
          data: {
            scheduleId: id,
            appointmentId: c.data.appointmentId,
            patientRef: 'p3',
            reason: 'doctor ill',
            cancelledBy: actor,
            cancelledAt: at,
          },
        },
        {
          type: 'ScheduleClosed',
          data: {
            scheduleId: id,
            reason: 'doctor ill',
            cancelledAppointmentIds: [a.data.appointmentId, c.data.appointmentId],
            closedBy: actor,
            closedAt: at,
          },
        },
      ]);
  });

  it('leaves no active appointment behind', () => {
    const opened = aScheduleOpened();
    const id = opened.data.scheduleId;
    const history = [opened, anAppointmentBooked(id), anAppointmentBooked(id)];
    const closed = decide(aClosure(), fold(history));
    if (!closed.ok) throw new Error('expected close to succeed');
    const state = fold([...history, ...closed.events]);
    expect(state.status).toBe('closed');
    if (state.status === 'closed') expect(state.activeByPatient.size).toBe(0);
  });

  it('rejects closing twice, an unknown schedule, and a blank reason', () => {
    const opened = aScheduleOpened();
    const closed = decide(aClosure(), fold([opened]));
    if (!closed.ok) throw new Error('expected close to succeed');
    given(opened, ...closed.events)
      .when(aClosure())
      .thenRejectedWith('schedule_closed');
    given().when(aClosure()).thenRejectedWith('schedule_not_found');
    given(opened)
      .when(aClosure({ reason: '  ' }))
      .thenRejectedWith('invalid_command');
  });
});
