/**
 * The Redis read models, as pure functions: `evolveSchedule(view | null, event)` folds the
 * availability document of one schedule, and `scheduleEffects` turns one event into the Redis
 * writes it implies. No I/O here; redis-writer.ts applies the writes atomically, guarded by the
 * schedule stream's revision.
 *
 * Keyspace (root `rm` by default, N = the live version in `rm:version`):
 *   rm:vN:schedule:{scheduleId}                hash  availability: capacity, booked, remaining,
 *                                                   status, facts, and `rev` (applied revision)
 *   rm:vN:doctor:{doctorId}:schedules          zset  open schedules, score = session start (ms)
 *   rm:vN:patient:{patientId}:appointments     zset  appointment ids, score = session start (ms)
 *   rm:vN:appointment:{appointmentId}          hash  one appointment (status, when, where)
 *   rm:vN:bookings:{date}:institutions         hash  institutionId → bookings made that day
 *   rm:vN:bookings:{date}:departments          hash  departmentId → bookings made that day
 *   rm:vN:hot-departments:{date}               zset  departmentId by bookings made that day
 * `date` is the booking's day in hospital time; the counters count bookings made that day and
 * are not decremented by cancellations (a homepage "挂号量", not a live occupancy).
 */
import type { ScheduleEvent } from '../../domain/schedule.ts';
import type { Period } from '../../domain/session-time.ts';
import { hospitalDate } from '../schedule-events.ts';

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
}

/** Places still bookable: none once the schedule is closed. */
export const remaining = (view: ScheduleView): number =>
  view.status === 'closed' ? 0 : Math.max(0, view.capacity - view.booked);

export class ReadModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReadModelError';
  }
}

/** Pure: the availability document after `event` (at stream revision `rev`). */
export function evolveSchedule(view: ScheduleView | null, event: ScheduleEvent, rev: number): ScheduleView {
  if (event.type === 'ScheduleOpened') {
    const d = event.data;
    return {
      scheduleId: d.scheduleId,
      doctorId: d.doctorId,
      institutionId: d.institutionId,
      departmentId: d.departmentId,
      date: d.date,
      period: d.period,
      sessionStartsAt: d.sessionStartsAt,
      fee: d.fee,
      capacity: d.capacity,
      booked: 0,
      status: 'open',
      rev,
    };
  }
  if (!view) throw new ReadModelError(`${event.type} at revision ${rev} before the schedule was opened`);
  switch (event.type) {
    case 'AppointmentBooked':
      return { ...view, booked: view.booked + 1, rev };
    case 'AppointmentCancelled':
      return { ...view, booked: Math.max(0, view.booked - 1), rev };
    case 'CapacityChanged':
      return { ...view, capacity: event.data.capacity, rev };
    case 'ScheduleClosed':
      return { ...view, status: 'closed', rev };
    default:
      return { ...view, rev };
  }
}

// ---------------------------------------------------------------------------------------------
// Keys and writes
// ---------------------------------------------------------------------------------------------

export interface Keyspace {
  readonly prefix: string;
  schedule(scheduleId: string): string;
  doctorSchedules(doctorId: string): string;
  patientAppointments(patientId: string): string;
  appointment(appointmentId: string): string;
  bookingsByInstitution(date: string): string;
  bookingsByDepartment(date: string): string;
  hotDepartments(date: string): string;
}

/** `root` is the configurable key prefix (default `rm`); tests use a random one. */
export const versionKey = (root: string): string => `${root}:version`;

export function keyspace(root: string, version: number): Keyspace {
  const p = `${root}:v${version}`;
  return {
    prefix: p,
    schedule: (id) => `${p}:schedule:${id}`,
    doctorSchedules: (id) => `${p}:doctor:${id}:schedules`,
    patientAppointments: (id) => `${p}:patient:${id}:appointments`,
    appointment: (id) => `${p}:appointment:${id}`,
    bookingsByInstitution: (date) => `${p}:bookings:${date}:institutions`,
    bookingsByDepartment: (date) => `${p}:bookings:${date}:departments`,
    hotDepartments: (date) => `${p}:hot-departments:${date}`,
  };
}

/** The only commands the guarded script runs. Arguments are strings, exactly as sent to Redis. */
export type RedisOp =
  | { cmd: 'HSET'; key: string; args: string[] }
  | { cmd: 'HINCRBY'; key: string; args: [field: string, by: string] }
  | { cmd: 'ZADD'; key: string; args: [score: string, member: string] }
  | { cmd: 'ZINCRBY'; key: string; args: [by: string, member: string] }
  | { cmd: 'ZREM'; key: string; args: [member: string] };

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
  };
}

/** The applied revision stored in a schedule hash, -1 when there is none. */
export const storedRevision = (hash: Record<string, string>): number =>
  hash.rev === undefined ? -1 : Number(hash.rev);

const sessionScore = (view: ScheduleView): string => String(Date.parse(view.sessionStartsAt));

/**
 * Pure: the availability document after `event` and every Redis write the event implies
 * (the schedule hash's `rev` is not among them: the guarded script sets it).
 */
export function scheduleEffects(
  view: ScheduleView | null,
  event: ScheduleEvent,
  rev: number,
  keys: Keyspace,
): { view: ScheduleView; ops: RedisOp[] } {
  const after = evolveSchedule(view, event, rev);
  const ops: RedisOp[] = [];
  const scheduleKey = keys.schedule(after.scheduleId);
  switch (event.type) {
    case 'ScheduleOpened':
      ops.push({ cmd: 'HSET', key: scheduleKey, args: scheduleFields(after) });
      ops.push({
        cmd: 'ZADD',
        key: keys.doctorSchedules(after.doctorId),
        args: [sessionScore(after), after.scheduleId],
      });
      break;
    case 'AppointmentBooked': {
      const d = event.data;
      const day = hospitalDate(d.bookedAt);
      ops.push({
        cmd: 'HSET',
        key: scheduleKey,
        args: ['booked', String(after.booked), 'remaining', String(remaining(after))],
      });
      ops.push({
        cmd: 'HSET',
        key: keys.appointment(d.appointmentId),
        args: [
          'appointmentId',
          d.appointmentId,
          'scheduleId',
          after.scheduleId,
          'patientId',
          d.patientId,
          'doctorId',
          after.doctorId,
          'institutionId',
          after.institutionId,
          'departmentId',
          after.departmentId,
          'date',
          after.date,
          'period',
          after.period,
          'sessionStartsAt',
          after.sessionStartsAt,
          'status',
          'active',
          'bookedAt',
          d.bookedAt,
        ],
      });
      ops.push({
        cmd: 'ZADD',
        key: keys.patientAppointments(d.patientId),
        args: [sessionScore(after), d.appointmentId],
      });
      ops.push({ cmd: 'HINCRBY', key: keys.bookingsByInstitution(day), args: [after.institutionId, '1'] });
      ops.push({ cmd: 'HINCRBY', key: keys.bookingsByDepartment(day), args: [after.departmentId, '1'] });
      ops.push({ cmd: 'ZINCRBY', key: keys.hotDepartments(day), args: ['1', after.departmentId] });
      break;
    }
    case 'AppointmentCancelled': {
      const d = event.data;
      ops.push({
        cmd: 'HSET',
        key: scheduleKey,
        args: ['booked', String(after.booked), 'remaining', String(remaining(after))],
      });
      ops.push({
        cmd: 'HSET',
        key: keys.appointment(d.appointmentId),
        args: ['status', 'cancelled', 'cancelledAt', d.cancelledAt, 'cancelledBy', d.cancelledBy.role],
      });
      break;
    }
    case 'CapacityChanged':
      ops.push({
        cmd: 'HSET',
        key: scheduleKey,
        args: ['capacity', String(after.capacity), 'remaining', String(remaining(after))],
      });
      break;
    case 'ScheduleClosed':
      ops.push({ cmd: 'HSET', key: scheduleKey, args: ['status', 'closed', 'remaining', '0'] });
      ops.push({ cmd: 'ZREM', key: keys.doctorSchedules(after.doctorId), args: [after.scheduleId] });
      break;
    default:
      break;
  }
  return { view: after, ops };
}

/**
 * Pure: the same writes, fewer commands. Successive HSETs of one key merge (later fields win),
 * HINCRBYs of one field and ZINCRBYs of one member add up — but only while no other command on
 * that key came between, so the result is identical. A backlog of 500 bookings on one schedule
 * becomes one HSET of the schedule and one HINCRBY per counter instead of 500 of each.
 */
export function coalesceOps(ops: readonly RedisOp[]): RedisOp[] {
  const out: RedisOp[] = [];
  const last = new Map<string, number>(); // key → index in `out` of its latest op
  for (const op of ops) {
    const i = last.get(op.key);
    const prev = i === undefined ? undefined : out[i];
    if (prev && prev.cmd === op.cmd) {
      if (prev.cmd === 'HSET' && op.cmd === 'HSET') {
        const fields = new Map<string, string>();
        for (const args of [prev.args, op.args])
          for (let k = 0; k < args.length; k += 2) fields.set(args[k]!, args[k + 1]!);
        out[i!] = { cmd: 'HSET', key: op.key, args: [...fields].flat() };
        continue;
      }
      if (prev.cmd === 'HINCRBY' && op.cmd === 'HINCRBY' && prev.args[0] === op.args[0]) {
        out[i!] = {
          cmd: 'HINCRBY',
          key: op.key,
          args: [op.args[0], String(Number(prev.args[1]) + Number(op.args[1]))],
        };
        continue;
      }
      if (prev.cmd === 'ZINCRBY' && op.cmd === 'ZINCRBY' && prev.args[1] === op.args[1]) {
        out[i!] = {
          cmd: 'ZINCRBY',
          key: op.key,
          args: [String(Number(prev.args[0]) + Number(op.args[0])), op.args[1]],
        };
        continue;
      }
    }
    last.set(op.key, out.length);
    out.push(op);
  }
  return out;
}
