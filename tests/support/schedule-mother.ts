/**
 * Test data builders for the schedule domain. Every builder returns a fresh, valid value
 * with random ids, so tests only spell out what they are about.
 */
import { randomUUID } from 'node:crypto';
import { decide, fold, scheduleStreamName } from '../../domain/schedule.ts';
import type {
  Actor,
  AppointmentBooked,
  BookAppointment,
  CancelAppointment,
  ChangeCapacity,
  CloseSchedule,
  OpenSchedule,
  ScheduleCommand,
  ScheduleEvent,
  ScheduleOpened,
} from '../../domain/schedule.ts';
import { sessionStart } from '../../domain/session-time.ts';

export const SESSION_DATE = '2030-01-15';
/** Well before the default session (2030-01-15 08:00 Asia/Shanghai). */
export const BEFORE_SESSION = new Date('2030-01-10T09:30:00Z');

export const hospital = (id = 'hospital-1'): Actor => ({ id, role: 'hospital' });
export const admin = (id = 'admin-1'): Actor => ({ id, role: 'admin' });
export const patient = (id = `patient-${randomUUID().slice(0, 8)}`): Actor => ({ id, role: 'patient' });

export function anOpenSchedule(overrides: Partial<OpenSchedule> = {}): OpenSchedule {
  return {
    type: 'OpenSchedule',
    scheduleId: randomUUID(),
    doctorId: 'doctor-1',
    institutionId: 'institution-1',
    departmentId: 'cardiology',
    date: SESSION_DATE,
    period: 'morning',
    capacity: 3,
    fee: 5000,
    actor: hospital(),
    now: BEFORE_SESSION,
    bookingHorizonDays: 90,
    ...overrides,
  };
}

export function aScheduleOpened(overrides: Partial<ScheduleOpened['data']> = {}): ScheduleOpened {
  const date = overrides.date ?? SESSION_DATE;
  const period = overrides.period ?? 'morning';
  return {
    type: 'ScheduleOpened',
    data: {
      scheduleId: randomUUID(),
      doctorId: 'doctor-1',
      institutionId: 'institution-1',
      departmentId: 'cardiology',
      date,
      period,
      sessionStartsAt: sessionStart(date, period).toISOString(),
      capacity: 3,
      fee: 5000,
      openedBy: hospital(),
      openedAt: BEFORE_SESSION.toISOString(),
      ...overrides,
    },
  };
}

/**
 * A sealed identity as the decider sees it: opaque, recorded as is (the domain never opens it;
 * the vault's own tests seal and open real ones).
 */
export const SEALED_STUB = 'v1.aXY.Y2lwaGVy.dGFn';

export function anAppointmentBooked(
  scheduleId: string,
  overrides: Partial<AppointmentBooked['data']> = {},
): AppointmentBooked {
  return {
    type: 'AppointmentBooked',
    data: {
      scheduleId,
      appointmentId: randomUUID(),
      patientRef: patient().id,
      patient: SEALED_STUB,
      bookedAt: BEFORE_SESSION.toISOString(),
      ...overrides,
    },
  };
}

export function aBooking(scheduleId: string, overrides: Partial<BookAppointment> = {}): BookAppointment {
  return {
    type: 'BookAppointment',
    scheduleId,
    appointmentId: randomUUID(),
    patientRef: patient().id,
    patient: SEALED_STUB,
    now: BEFORE_SESSION,
    ...overrides,
  };
}

export function aCancellation(
  appointmentId: string,
  overrides: Partial<CancelAppointment> = {},
): CancelAppointment {
  return { type: 'CancelAppointment', appointmentId, actor: hospital(), now: BEFORE_SESSION, ...overrides };
}

export function aCapacityChange(capacity: number, overrides: Partial<ChangeCapacity> = {}): ChangeCapacity {
  return { type: 'ChangeCapacity', capacity, actor: hospital(), now: BEFORE_SESSION, ...overrides };
}

export function aClosure(overrides: Partial<CloseSchedule> = {}): CloseSchedule {
  return {
    type: 'CloseSchedule',
    reason: 'doctor unavailable',
    actor: hospital(),
    now: BEFORE_SESSION,
    ...overrides,
  };
}

/** Runs commands through the real decider and returns the events, as the command API would. */
export function historyOf(...commands: ScheduleCommand[]): ScheduleEvent[] {
  const events: ScheduleEvent[] = [];
  for (const command of commands) {
    const decision = decide(command, fold(events));
    if (!decision.ok) throw new Error(`rejected: ${decision.error.code}`);
    events.push(...decision.events);
  }
  return events;
}

/**
 * A schedule's whole history as the decider produces it: opened (capacity 1000), `bookings`
 * bookings, then the first `cancels` of them cancelled. For projector tests that need many
 * realistic streams.
 */
export function aScheduleHistory(bookings: number, cancels: number, open: Partial<OpenSchedule> = {}) {
  const opened = anOpenSchedule({ capacity: 1000, ...open });
  const booked = Array.from({ length: bookings }, () => aBooking(opened.scheduleId));
  const cancelled = booked.slice(0, cancels).map((b) => aCancellation(b.appointmentId));
  return {
    open: opened,
    scheduleId: opened.scheduleId,
    stream: scheduleStreamName(opened.scheduleId),
    events: historyOf(opened, ...booked, ...cancelled),
    appointments: booked.map((b) => b.appointmentId),
  };
}
