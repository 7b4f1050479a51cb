/**
 * The booking read models in Redis, the contract between the event projector (projections/redis/,
 * the writer) and the query API (the reader): the key layout, the availability document of a
 * schedule and the appointment document. Pure: no I/O.
 *
 * Every key starts with the root in a Redis Cluster hash tag, `{rm}:` (docs/adr/0020): the whole
 * booking read model is one hash slot, so the guarded write of a schedule's events (one Lua
 * script touching the schedule, its appointments, the doctor's and patients' lists and the day's
 * counters), the version switch and every reader's pipeline stay on one node.
 *
 * Keyspace (root `rm` by default, shown without its tag; N = the live version in `rm:version`):
 *   rm:vN:schedule:{scheduleId}                hash  availability: capacity, booked, remaining,
 *                                                   status, facts, `rev` (applied stream revision)
 *                                                   and `cp` (event-store checkpoint of that event,
 *                                                   for read-your-writes)
 *   rm:vN:doctor:{doctorId}:schedules          zset  open schedules, score = session start (ms)
 *   rm:vN:patient:{patientRef}:appointments    zset  appointment ids, score = session start (ms)
 *   rm:vN:appointment:{appointmentId}          hash  one appointment (status, when, where, the
 *                                                   holder's `patientRef` and sealed `patient`;
 *                                                   on a numbered schedule also its slot and the
 *                                                   times of each transition, read-models/slots.ts)
 *   rm:vN:schedule:{scheduleId}:appointments   zset  the schedule's appointments (the day list),
 *                                                   score = slot number (numbered) or booking
 *                                                   time in ms (capacity-only)
 *   rm:vN:doctor:{doctorId}:days               zset  every schedule ever opened, closed ones too,
 *                                                   score = session start (ms)
 * A numbered schedule's hash also holds `slots`: each slot's state (read-models/slots.ts).
 * No key name or value carries a patient id in clear: patients are named by their opaque
 * reference and their identity is sealed with their data key (docs/adr/0010). Forgetting a
 * patient deletes their list and the two patient fields of their appointments.
 *   rm:vN:bookings:{date}:institutions         hash  institutionId → bookings made that day
 *   rm:vN:bookings:{date}:departments          hash  departmentId → bookings made that day
 *   rm:vN:hot-departments:{date}               zset  departmentId by bookings made that day
 * `date` is the booking's day in hospital time (hospital-date.ts); the counters count bookings
 * made that day and are not decremented by cancellations (a homepage "挂号量", not a live
 * occupancy).
 */
import type { Period } from '../domain/session-time.ts';
import { decodeSlotBook, SLOTS_FIELD, type SlotBookDoc } from './slots.ts';

export interface ScheduleView {
  scheduleId: string;
  doctorId: string;
  institutionId: string;
  departmentId: string;
  date: string;
  period: Period;
  sessionStartsAt: string;
  fee: number;
  capacity: number;
  /** Active (not cancelled) appointments. */
  booked: number;
  status: 'open' | 'closed';
  /** Revision of the last applied event of the schedule's stream. */
  rev: number;
  /** A numbered schedule's slots (docs/adr/0012); absent for a capacity-only one. */
  slots?: SlotBookDoc | undefined;
}

/** Places still bookable: none once the schedule is closed. */
export const remaining = (view: ScheduleView): number =>
  view.status === 'closed' ? 0 : Math.max(0, view.capacity - view.booked);

export interface Keyspace {
  readonly prefix: string;
  schedule(scheduleId: string): string;
  doctorSchedules(doctorId: string): string;
  patientAppointments(patientRef: string): string;
  appointment(appointmentId: string): string;
  scheduleAppointments(scheduleId: string): string;
  doctorDays(doctorId: string): string;
  bookingsByInstitution(date: string): string;
  bookingsByDepartment(date: string): string;
  hotDepartments(date: string): string;
}

/**
 * What every key of the read model under `root` starts with: the root as a Redis Cluster hash tag
 * (`{rm}:`), so all of them hash to one slot. SCAN patterns and keyspace-notification prefixes
 * use this, never the bare root.
 */
export const rootPrefix = (root: string): string => `{${root}}:`;

/** `root` is the configurable key prefix (default `rm`); tests use a random one. */
export const versionKey = (root: string): string => `${rootPrefix(root)}version`;
/**
 * The keyspace's epoch marker: set once the read model is known to hold the whole log (built from
 * the start, or rebuilt). A Redis that restarted without persistence, or was flushed, has lost it,
 * which is how the projectors tell "empty because lost" from "empty because new".
 */
export const epochKey = (root: string): string => `${rootPrefix(root)}epoch`;
/** Present (with progress, JSON) while the projectors rebuild a lost keyspace from the event log. */
export const rebuildingKey = (root: string): string => `${rootPrefix(root)}rebuilding`;

export function keyspace(root: string, version: number): Keyspace {
  const p = `${rootPrefix(root)}v${version}`;
  return {
    prefix: p,
    schedule: (id) => `${p}:schedule:${id}`,
    doctorSchedules: (id) => `${p}:doctor:${id}:schedules`,
    patientAppointments: (id) => `${p}:patient:${id}:appointments`,
    appointment: (id) => `${p}:appointment:${id}`,
    scheduleAppointments: (id) => `${p}:schedule:${id}:appointments`,
    doctorDays: (id) => `${p}:doctor:${id}:days`,
    bookingsByInstitution: (date) => `${p}:bookings:${date}:institutions`,
    bookingsByDepartment: (date) => `${p}:bookings:${date}:departments`,
    hotDepartments: (date) => `${p}:hot-departments:${date}`,
  };
}

export const scheduleFields = (v: ScheduleView): string[] => [
  'scheduleId',
  v.scheduleId,
  'doctorId',
  v.doctorId,
  'institutionId',
  v.institutionId,
  'departmentId',
  v.departmentId,
  'date',
  v.date,
  'period',
  v.period,
  'sessionStartsAt',
  v.sessionStartsAt,
  'fee',
  String(v.fee),
  'capacity',
  String(v.capacity),
  'booked',
  String(v.booked),
  'remaining',
  String(remaining(v)),
  'status',
  v.status,
];

/** Parses the schedule hash back into a view; null for a missing or foreign hash. */
export function parseScheduleHash(hash: Record<string, string>): ScheduleView | null {
  if (hash.rev === undefined || hash.scheduleId === undefined) return null;
  return {
    scheduleId: hash.scheduleId,
    doctorId: hash.doctorId ?? '',
    institutionId: hash.institutionId ?? '',
    departmentId: hash.departmentId ?? '',
    date: hash.date ?? '',
    period: (hash.period ?? 'morning') as Period,
    sessionStartsAt: hash.sessionStartsAt ?? '',
    fee: Number(hash.fee ?? 0),
    capacity: Number(hash.capacity ?? 0),
    booked: Number(hash.booked ?? 0),
    status: hash.status === 'closed' ? 'closed' : 'open',
    rev: Number(hash.rev),
    ...(hash[SLOTS_FIELD] === undefined ? {} : { slots: decodeSlotBook(hash[SLOTS_FIELD]) }),
  };
}

/** The applied revision stored in a schedule hash, -1 when there is none. */
export const storedRevision = (hash: Record<string, string>): number =>
  hash.rev === undefined ? -1 : Number(hash.rev);

/**
 * An appointment's status in the read model. `active`: booked on a capacity-only schedule; on a
 * numbered one `held` (a fee is due by `holdExpiresAt`) → `confirmed` → `checked_in` / `no_show`,
 * or `expired` / `cancelled`. `waitlisted` / `left`: a waitlist entry (its id becomes the
 * appointment's if a slot is offered, and the status moves on to `held` or `confirmed`).
 */
export const appointmentStatuses = [
  'active',
  'held',
  'confirmed',
  'expired',
  'cancelled',
  'checked_in',
  'no_show',
  'waitlisted',
  'left',
] as const;
export type AppointmentStatus = (typeof appointmentStatuses)[number];

/** The appointment hash (`…:appointment:{id}`): the fields the projector writes, as strings. */
export interface AppointmentView {
  appointmentId: string;
  scheduleId: string;
  /** The holder's reference and sealed identity; both absent once the patient is forgotten. */
  patientRef?: string;
  patient?: string;
  status: string;
  [field: string]: string | undefined;
}
