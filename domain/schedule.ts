/**
 * The schedule decider: one doctor's session (date + period) with its capacity and every
 * appointment booked on it. One schedule is one event stream, so the stream's optimistic
 * concurrency check is what makes overbooking impossible (see docs/adr/0001).
 *
 * Pure: no I/O, no clock, no id generation. Callers pass `now` and every id in.
 */
import { emptyMap, withEntry, withoutKey } from './persistent-map.ts';
import type { Actor, AppointmentCancelled, ScheduleEvent } from './schedule-events.ts';
import {
  addDays,
  hospitalDateAt,
  isCalendarDate,
  type Period,
  periods,
  sessionStart,
} from './session-time.ts';

export const MIN_CAPACITY = 1;
export const MAX_CAPACITY = 1000;

// ---------------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------------

export interface OpenSchedule {
  type: 'OpenSchedule';
  scheduleId: string;
  doctorId: string;
  institutionId: string;
  departmentId: string;
  /** YYYY-MM-DD in the hospital's time zone. */
  date: string;
  period: Period;
  capacity: number;
  /** Consultation fee in minor currency units (fen), a non-negative integer. */
  fee: number;
  actor: Actor;
  now: Date;
  /**
   * How far ahead a session may be opened, in days after the hospital's today (config
   * BOOKING_HORIZON_DAYS): the date must lie in today..today+bookingHorizonDays.
   */
  bookingHorizonDays: number;
}

export interface BookAppointment {
  type: 'BookAppointment';
  scheduleId: string;
  appointmentId: string;
  /** The patient's opaque reference (the caller resolves it from the patient's id; ADR 0010). */
  patientRef: string;
  /** The patient's identity sealed with their data key, recorded as is. */
  patient: string;
  now: Date;
}

export interface CancelAppointment {
  type: 'CancelAppointment';
  appointmentId: string;
  reason?: string | undefined;
  actor: Actor;
  now: Date;
}

export interface ChangeCapacity {
  type: 'ChangeCapacity';
  capacity: number;
  actor: Actor;
  now: Date;
}

export interface CloseSchedule {
  type: 'CloseSchedule';
  reason: string;
  actor: Actor;
  now: Date;
}

export type ScheduleCommand =
  OpenSchedule | BookAppointment | CancelAppointment | ChangeCapacity | CloseSchedule;

// ---------------------------------------------------------------------------------------------
// Events: defined once, as schemas, in schedule-events.ts
// ---------------------------------------------------------------------------------------------

export {
  actorRoles,
  isScheduleEventType,
  scheduleEventSchemas,
  scheduleEventTypes,
} from './schedule-events.ts';
export type {
  Actor,
  ActorRole,
  AppointmentBooked,
  AppointmentCancelled,
  CapacityChanged,
  ScheduleClosed,
  ScheduleEvent,
  ScheduleEventType,
  ScheduleOpened,
} from './schedule-events.ts';

// ---------------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------------

export interface Appointment {
  appointmentId: string;
  patientRef: string;
  status: 'active' | 'cancelled';
}

export interface ScheduleFacts {
  scheduleId: string;
  doctorId: string;
  institutionId: string;
  departmentId: string;
  date: string;
  period: Period;
  sessionStartsAt: string;
  fee: number;
  capacity: number;
  appointments: ReadonlyMap<string, Appointment>;
  /** patientRef → appointmentId of that patient's active appointment. Its size is the active count. */
  activeByPatient: ReadonlyMap<string, string>;
}

export type ScheduleState =
  | { status: 'initial' }
  | ({ status: 'open' } & ScheduleFacts)
  | ({ status: 'closed'; closedReason: string } & ScheduleFacts);

export const initialState = (): ScheduleState => ({ status: 'initial' });

export const activeCount = (state: ScheduleState): number =>
  state.status === 'initial' ? 0 : state.activeByPatient.size;

// ---------------------------------------------------------------------------------------------
// Errors and the decision type
// ---------------------------------------------------------------------------------------------

export type ScheduleError =
  | { code: 'invalid_command'; field: string; reason: string }
  | { code: 'schedule_not_found' }
  | { code: 'schedule_already_exists' }
  | { code: 'schedule_closed' }
  | { code: 'session_started'; sessionStartsAt: string }
  /** The date lies before the hospital's today or after the booking horizon (both inclusive bounds). */
  | { code: 'date_outside_horizon'; date: string; earliest: string; latest: string }
  | { code: 'schedule_full'; capacity: number }
  | { code: 'already_booked'; appointmentId: string }
  | { code: 'appointment_id_taken'; appointmentId: string }
  | { code: 'appointment_not_found'; appointmentId: string }
  | { code: 'appointment_not_active'; appointmentId: string }
  | { code: 'not_appointment_holder'; appointmentId: string }
  | { code: 'capacity_below_active'; capacity: number; active: number };

export type ScheduleErrorCode = ScheduleError['code'];

export type Decision = { ok: true; events: ScheduleEvent[] } | { ok: false; error: ScheduleError };

const accept = (...events: ScheduleEvent[]): Decision => ({ ok: true, events });
const reject = (error: ScheduleError): Decision => ({ ok: false, error });

const assertNever = (value: never): never => {
  throw new Error(`Unhandled variant: ${JSON.stringify(value)}`);
};

/** Why a command that needs an open schedule is refused: the schedule is unknown or closed. */
function notOpen(state: Exclude<ScheduleState, { status: 'open' }>): Decision {
  switch (state.status) {
    case 'initial':
      return reject({ code: 'schedule_not_found' });
    case 'closed':
      return reject({ code: 'schedule_closed' });
    default:
      return assertNever(state);
  }
}

function validCapacity(capacity: number): boolean {
  return Number.isInteger(capacity) && capacity >= MIN_CAPACITY && capacity <= MAX_CAPACITY;
}

// ---------------------------------------------------------------------------------------------
// decide
// ---------------------------------------------------------------------------------------------

export function decide(command: ScheduleCommand, state: ScheduleState): Decision {
  switch (command.type) {
    case 'OpenSchedule':
      return openSchedule(command, state);
    case 'BookAppointment':
      return bookAppointment(command, state);
    case 'CancelAppointment':
      return cancelAppointment(command, state);
    case 'ChangeCapacity':
      return changeCapacity(command, state);
    case 'CloseSchedule':
      return closeSchedule(command, state);
    default:
      return assertNever(command);
  }
}

function openSchedule(cmd: OpenSchedule, state: ScheduleState): Decision {
  if (state.status !== 'initial') return reject({ code: 'schedule_already_exists' });
  if (!isCalendarDate(cmd.date)) {
    return reject({ code: 'invalid_command', field: 'date', reason: 'expected a calendar date YYYY-MM-DD' });
  }
  if (!periods.includes(cmd.period)) {
    return reject({
      code: 'invalid_command',
      field: 'period',
      reason: `expected one of ${periods.join(', ')}`,
    });
  }
  if (!validCapacity(cmd.capacity)) {
    return reject({
      code: 'invalid_command',
      field: 'capacity',
      reason: `expected an integer ${MIN_CAPACITY}..${MAX_CAPACITY}`,
    });
  }
  if (!Number.isInteger(cmd.fee) || cmd.fee < 0) {
    return reject({ code: 'invalid_command', field: 'fee', reason: 'expected a non-negative integer (fen)' });
  }
  const earliest = hospitalDateAt(cmd.now);
  const latest = addDays(earliest, cmd.bookingHorizonDays);
  // YYYY-MM-DD strings compare as the dates they write.
  if (cmd.date < earliest || cmd.date > latest) {
    return reject({ code: 'date_outside_horizon', date: cmd.date, earliest, latest });
  }
  const startsAt = sessionStart(cmd.date, cmd.period);
  // Today's session may have begun already.
  if (cmd.now.getTime() >= startsAt.getTime()) {
    return reject({ code: 'session_started', sessionStartsAt: startsAt.toISOString() });
  }
  return accept({
    type: 'ScheduleOpened',
    data: {
      scheduleId: cmd.scheduleId,
      doctorId: cmd.doctorId,
      institutionId: cmd.institutionId,
      departmentId: cmd.departmentId,
      date: cmd.date,
      period: cmd.period,
      sessionStartsAt: startsAt.toISOString(),
      capacity: cmd.capacity,
      fee: cmd.fee,
      openedBy: cmd.actor,
      openedAt: cmd.now.toISOString(),
    },
  });
}

function bookAppointment(cmd: BookAppointment, state: ScheduleState): Decision {
  if (state.status !== 'open') return notOpen(state);
  if (cmd.now.getTime() >= Date.parse(state.sessionStartsAt)) {
    return reject({ code: 'session_started', sessionStartsAt: state.sessionStartsAt });
  }
  const existing = state.activeByPatient.get(cmd.patientRef);
  if (existing !== undefined) return reject({ code: 'already_booked', appointmentId: existing });
  if (state.activeByPatient.size >= state.capacity)
    return reject({ code: 'schedule_full', capacity: state.capacity });
  if (state.appointments.has(cmd.appointmentId)) {
    return reject({ code: 'appointment_id_taken', appointmentId: cmd.appointmentId });
  }
  return accept({
    type: 'AppointmentBooked',
    data: {
      scheduleId: state.scheduleId,
      appointmentId: cmd.appointmentId,
      patientRef: cmd.patientRef,
      patient: cmd.patient,
      bookedAt: cmd.now.toISOString(),
    },
  });
}

function cancelAppointment(cmd: CancelAppointment, state: ScheduleState): Decision {
  if (state.status === 'initial')
    return reject({ code: 'appointment_not_found', appointmentId: cmd.appointmentId });
  const appointment = state.appointments.get(cmd.appointmentId);
  if (!appointment) return reject({ code: 'appointment_not_found', appointmentId: cmd.appointmentId });
  // A patient actor is named by their reference (the caller resolved it), so holding compares refs.
  if (cmd.actor.role === 'patient' && cmd.actor.id !== appointment.patientRef) {
    return reject({ code: 'not_appointment_holder', appointmentId: cmd.appointmentId });
  }
  if (appointment.status !== 'active') {
    return reject({ code: 'appointment_not_active', appointmentId: cmd.appointmentId });
  }
  return accept({
    type: 'AppointmentCancelled',
    data: {
      scheduleId: state.scheduleId,
      appointmentId: appointment.appointmentId,
      patientRef: appointment.patientRef,
      reason: cmd.reason ?? null,
      cancelledBy: cmd.actor,
      cancelledAt: cmd.now.toISOString(),
    },
  });
}

function changeCapacity(cmd: ChangeCapacity, state: ScheduleState): Decision {
  if (state.status !== 'open') return notOpen(state);
  if (!validCapacity(cmd.capacity)) {
    return reject({
      code: 'invalid_command',
      field: 'capacity',
      reason: `expected an integer ${MIN_CAPACITY}..${MAX_CAPACITY}`,
    });
  }
  const active = state.activeByPatient.size;
  if (cmd.capacity < active) return reject({ code: 'capacity_below_active', capacity: cmd.capacity, active });
  // Same capacity: nothing happened, so nothing to record.
  if (cmd.capacity === state.capacity) return accept();
  return accept({
    type: 'CapacityChanged',
    data: {
      scheduleId: state.scheduleId,
      previousCapacity: state.capacity,
      capacity: cmd.capacity,
      changedBy: cmd.actor,
      changedAt: cmd.now.toISOString(),
    },
  });
}

function closeSchedule(cmd: CloseSchedule, state: ScheduleState): Decision {
  if (state.status !== 'open') return notOpen(state);
  if (cmd.reason.trim() === '')
    return reject({ code: 'invalid_command', field: 'reason', reason: 'required' });
  const at = cmd.now.toISOString();
  const cancellations: AppointmentCancelled[] = [];
  for (const [patientRef, appointmentId] of state.activeByPatient) {
    cancellations.push({
      type: 'AppointmentCancelled',
      data: {
        scheduleId: state.scheduleId,
        appointmentId,
        patientRef,
        reason: cmd.reason,
        cancelledBy: cmd.actor,
        cancelledAt: at,
      },
    });
  }
  return accept(...cancellations, {
    type: 'ScheduleClosed',
    data: {
      scheduleId: state.scheduleId,
      reason: cmd.reason,
      cancelledAppointmentIds: cancellations.map((c) => c.data.appointmentId),
      closedBy: cmd.actor,
      closedAt: at,
    },
  });
}

// ---------------------------------------------------------------------------------------------
// evolve
// ---------------------------------------------------------------------------------------------

/** Total: an event that does not fit the state (it cannot happen via `decide`) leaves it unchanged. */
export function evolve(state: ScheduleState, event: ScheduleEvent): ScheduleState {
  switch (event.type) {
    case 'ScheduleOpened': {
      if (state.status !== 'initial') return state;
      const d = event.data;
      return {
        status: 'open',
        scheduleId: d.scheduleId,
        doctorId: d.doctorId,
        institutionId: d.institutionId,
        departmentId: d.departmentId,
        date: d.date,
        period: d.period,
        sessionStartsAt: d.sessionStartsAt,
        fee: d.fee,
        capacity: d.capacity,
        appointments: emptyMap(),
        activeByPatient: emptyMap(),
      };
    }
    case 'AppointmentBooked': {
      if (state.status === 'initial') return state;
      const { appointmentId, patientRef } = event.data;
      return {
        ...state,
        appointments: withEntry(state.appointments, appointmentId, {
          appointmentId,
          patientRef,
          status: 'active',
        }),
        activeByPatient: withEntry(state.activeByPatient, patientRef, appointmentId),
      };
    }
    case 'AppointmentCancelled':
      return withAppointmentEnded(state, event.data.appointmentId);
    case 'CapacityChanged':
      if (state.status === 'initial') return state;
      return { ...state, capacity: event.data.capacity };
    case 'ScheduleClosed':
      if (state.status !== 'open') return state;
      return { ...state, status: 'closed', closedReason: event.data.reason };
    default:
      return assertNever(event);
  }
}

/**
 * The appointment no longer active (cancelled, or on a numbered schedule also a hold that
 * expired: schedule-stream.ts): its place is free and its patient may book again.
 */
export function withAppointmentEnded(state: ScheduleState, appointmentId: string): ScheduleState {
  if (state.status === 'initial') return state;
  const current = state.appointments.get(appointmentId);
  if (!current) return state;
  const appointments = withEntry(state.appointments, current.appointmentId, {
    ...current,
    status: 'cancelled' as const,
  });
  const activeByPatient =
    state.activeByPatient.get(current.patientRef) === current.appointmentId
      ? withoutKey(state.activeByPatient, current.patientRef)
      : state.activeByPatient;
  return { ...state, appointments, activeByPatient };
}

export const fold = (
  events: Iterable<ScheduleEvent>,
  from: ScheduleState = initialState(),
): ScheduleState => {
  let state = from;
  for (const event of events) state = evolve(state, event);
  return state;
};

export const scheduleStreamName = (scheduleId: string): string => `schedule-${scheduleId}`;
