/**
 * The per-patient rules (issue 15 item 4), pure. They span schedules, so no schedule's stream can
 * hold them: docs/adr/0012 puts them in a `patient_bookings` table written in the append's
 * transaction under a per-patient row lock. This module is everything about them that is not
 * SQL: the patient's state, the facts a schedule's events imply for it, and the rules.
 *
 * The two cut-offs need only the schedule, so the numbered schedule's decider applies them
 * itself (slots.ts, holds.ts); they are defined here with the other rules a hospital configures.
 */
import { hospitalDateAt } from './session-time.ts';
import { addMinutes } from './slot-state.ts';
import type { ScheduleStreamEvent } from './slot-state.ts';

export interface CutoffOptions {
  /** Booking closes this many minutes before the session starts (0: at the start). */
  bookingCutoffMinutes: number;
  /** A patient may cancel until this many minutes before their slot starts (the hospital always). */
  cancellationCutoffMinutes: number;
}

export interface PatientRuleOptions extends CutoffOptions {
  /**
   * At most this many active appointments per patient, across schedules, counting those on or
   * after today (the hospital's date): a past session's appointment the hospital never marked
   * attended or no-show does not bar the patient for ever.
   */
  maxActive: number;
  /** This many no-shows within the window limit the patient (they may not book). */
  noShowLimit: number;
  noShowWindowDays: number;
}

export const defaultPatientRuleOptions: PatientRuleOptions = {
  bookingCutoffMinutes: 0,
  cancellationCutoffMinutes: 0,
  maxActive: 5,
  noShowLimit: 3,
  noShowWindowDays: 90,
};

export const bookingCutoff = (sessionStartsAt: string, o: CutoffOptions): Date =>
  addMinutes(sessionStartsAt, -o.bookingCutoffMinutes);

export const cancellationCutoff = (slotStartsAt: string, o: CutoffOptions): Date =>
  addMinutes(slotStartsAt, -o.cancellationCutoffMinutes);

// ---------------------------------------------------------------------------------------------
// A patient's state and the facts that change it
// ---------------------------------------------------------------------------------------------

/** Where an appointment is: enough to judge "one per doctor per day". */
export interface PatientAppointment {
  appointmentId: string;
  scheduleId: string;
  doctorId: string;
  /** The session's date, YYYY-MM-DD in the hospital's zone. */
  date: string;
}

export interface PatientState {
  patientRef: string;
  /** Held or confirmed, not yet attended: appointmentId → where. */
  active: ReadonlyMap<string, PatientAppointment>;
  /** When each no-show was marked (ISO instants). */
  noShows: readonly string[];
}

export const emptyPatient = (patientRef: string): PatientState => ({
  patientRef,
  active: new Map(),
  noShows: [],
});

export type PatientFact =
  | { kind: 'booked'; patientRef: string; appointment: PatientAppointment }
  | { kind: 'ended'; patientRef: string; appointmentId: string }
  | { kind: 'no_show'; patientRef: string; appointmentId: string; at: string };

/** The schedule a batch of events belongs to, as the patient rules see it. */
export interface ScheduleRef {
  scheduleId: string;
  doctorId: string;
  date: string;
}

/** What one schedule event means for its patient (the rows docs/adr/0012 writes), if anything. */
export function patientFactOf(e: ScheduleStreamEvent, s: ScheduleRef): PatientFact | null {
  switch (e.type) {
    case 'AppointmentBooked': {
      const { appointmentId, patientRef } = e.data;
      return { kind: 'booked', patientRef, appointment: { appointmentId, ...s } };
    }
    case 'AppointmentCancelled':
    case 'HoldExpired':
    case 'PatientCheckedIn':
      return { kind: 'ended', patientRef: e.data.patientRef, appointmentId: e.data.appointmentId };
    case 'NoShowMarked': {
      const { patientRef, appointmentId, markedAt } = e.data;
      return { kind: 'no_show', patientRef, appointmentId, at: markedAt };
    }
    default:
      return null;
  }
}

export const patientFactsOf = (events: readonly ScheduleStreamEvent[], s: ScheduleRef): PatientFact[] =>
  events.flatMap((e) => patientFactOf(e, s) ?? []);

export function evolvePatient(state: PatientState, fact: PatientFact): PatientState {
  if (fact.patientRef !== state.patientRef) return state;
  const active = new Map(state.active);
  switch (fact.kind) {
    case 'booked':
      active.set(fact.appointment.appointmentId, fact.appointment);
      return { ...state, active };
    case 'ended':
      active.delete(fact.appointmentId);
      return { ...state, active };
    case 'no_show':
      active.delete(fact.appointmentId);
      return { ...state, active, noShows: [...state.noShows, fact.at] };
    default:
      return assertNeverFact(fact);
  }
}

const assertNeverFact = (fact: never): never => {
  throw new Error(`Unhandled patient fact: ${JSON.stringify(fact)}`);
};

// ---------------------------------------------------------------------------------------------
// The rules
// ---------------------------------------------------------------------------------------------

export type PatientRuleError =
  | { code: 'one_per_doctor_per_day'; appointmentId: string }
  | { code: 'too_many_active'; limit: number }
  | { code: 'no_show_limited'; count: number; since: string };

/** No-shows within the window ending at `now`. */
export function recentNoShows(state: PatientState, now: Date, o: PatientRuleOptions): string[] {
  const since = now.getTime() - o.noShowWindowDays * 86_400_000;
  return state.noShows.filter((at) => Date.parse(at) > since);
}

/** Active appointments whose session is today or later (the hospital's date at `now`). */
export function upcomingCount(state: PatientState, now: Date): number {
  const today = hospitalDateAt(now);
  let count = 0;
  for (const a of state.active.values()) if (a.date >= today) count += 1;
  return count;
}

/** Why this patient may not take an appointment with `wanted`'s doctor on its date, or null. */
export function patientMayBook(
  state: PatientState,
  wanted: ScheduleRef,
  now: Date,
  o: PatientRuleOptions,
): PatientRuleError | null {
  const recent = recentNoShows(state, now, o);
  if (recent.length >= o.noShowLimit) {
    const since = new Date(now.getTime() - o.noShowWindowDays * 86_400_000).toISOString();
    return { code: 'no_show_limited', count: recent.length, since };
  }
  for (const a of state.active.values()) {
    if (a.doctorId === wanted.doctorId && a.date === wanted.date)
      return { code: 'one_per_doctor_per_day', appointmentId: a.appointmentId };
  }
  if (upcomingCount(state, now) >= o.maxActive) return { code: 'too_many_active', limit: o.maxActive };
  return null;
}

/**
 * Of the patients waiting on `schedule`, those the rules bar from an offer now: the caller passes
 * them to the schedule decider (`barredFromOffers`), which then skips them in the queue.
 */
export const barredFromOffers = (
  waiting: readonly PatientState[],
  schedule: ScheduleRef,
  now: Date,
  o: PatientRuleOptions,
): string[] => waiting.filter((p) => patientMayBook(p, schedule, now, o) !== null).map((p) => p.patientRef);

/**
 * The rules over the events of one decision: the first patient whose state after them breaks a
 * rule, with why. The command path runs this inside the append's transaction, on states it read
 * under the patients' row locks, and rolls back on a refusal (docs/adr/0012).
 */
export function checkDecision(
  states: ReadonlyMap<string, PatientState>,
  events: readonly ScheduleStreamEvent[],
  schedule: ScheduleRef,
  now: Date,
  o: PatientRuleOptions,
): { patientRef: string; error: PatientRuleError } | null {
  for (const fact of patientFactsOf(events, schedule)) {
    if (fact.kind !== 'booked') continue;
    const state = states.get(fact.patientRef) ?? emptyPatient(fact.patientRef);
    const error = patientMayBook(state, schedule, now, o);
    if (error) return { patientRef: fact.patientRef, error };
  }
  return null;
}
