/**
 * The booking read models' writes, as pure functions: `evolveSchedule(view | null, event)` folds
 * the availability document of one schedule, and `scheduleEffects` turns one event into the Redis
 * writes it implies. No I/O here; redis-writer.ts applies the writes atomically, guarded by the
 * schedule stream's revision. The keyspace and documents they write are the contract in
 * read-models/bookings.ts, which the query API reads.
 */
import type { ScheduleStreamEvent } from '../../domain/slot-state.ts';
import { remaining, scheduleFields, type Keyspace, type ScheduleView } from '../../read-models/bookings.ts';
import { hospitalDate } from '../../read-models/hospital-date.ts';
import { encodeSlotBook, slotCounts, SLOTS_FIELD } from '../../read-models/slots.ts';
import { appointmentFacts } from './appointment-facts.ts';
import { evolveSlots, slotAppointmentOps } from './slot-read-model.ts';

export class ReadModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReadModelError';
  }
}

/**
 * Pure: the availability document after `event` (at stream revision `rev`). An event at or below
 * the document's revision is already in it: the document comes back unchanged (idempotent by
 * revision, as the writer's guard is). On a numbered schedule `booked` is the slots taken (held,
 * confirmed or attended), so an expired hold or a cancellation gives its place back.
 */
export function evolveSchedule(
  view: ScheduleView | null,
  event: ScheduleStreamEvent,
  rev: number,
): ScheduleView {
  if (view && rev <= view.rev) return view;
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
  // One copy of the document per event (the projector folds every event of every batch).
  const counted = evolveCounts(view, event, rev);
  const slots = evolveSlots(view.slots, event);
  if (!slots) return counted;
  const { held, confirmed } = slotCounts(slots);
  return { ...counted, slots, booked: held + confirmed };
}

function evolveCounts(view: ScheduleView, event: ScheduleStreamEvent, rev: number): ScheduleView {
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

/** The only commands the guarded script runs. Arguments are strings, exactly as sent to Redis. */
export type RedisOp =
  | { cmd: 'HSET'; key: string; args: string[] }
  | { cmd: 'HINCRBY'; key: string; args: [field: string, by: string] }
  // ZADD without flags: score, member pairs (one pair per event; coalesceOps joins them).
  | { cmd: 'ZADD'; key: string; args: string[] }
  | { cmd: 'ZINCRBY'; key: string; args: [by: string, member: string] }
  | { cmd: 'ZREM'; key: string; args: [member: string] };

/** The score of a schedule's session; the last one is kept, as a stream's bookings all ask for it. */
let lastSession = { at: '', score: '' };
const sessionScore = (view: ScheduleView): string => {
  if (view.sessionStartsAt !== lastSession.at)
    lastSession = { at: view.sessionStartsAt, score: String(Date.parse(view.sessionStartsAt)) };
  return lastSession.score;
};

/**
 * Pure: the availability document after `event` and every Redis write the event implies
 * (the schedule hash's `rev` is not among them: the guarded script sets it).
 */
export function scheduleEffects(
  view: ScheduleView | null,
  event: ScheduleStreamEvent,
  rev: number,
  keys: Keyspace,
  /** Patients already forgotten: their bookings are written anonymous (docs/adr/0010). */
  forgotten: ReadonlySet<string> = new Set(),
): { view: ScheduleView; ops: RedisOp[] } {
  if (view && rev <= view.rev) return { view, ops: [] };
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
      ops.push({
        cmd: 'ZADD',
        key: keys.doctorDays(after.doctorId),
        args: [sessionScore(after), after.scheduleId],
      });
      break;
    case 'AppointmentBooked': {
      const d = event.data;
      const day = hospitalDate(d.bookedAt);
      const anonymous = forgotten.has(d.patientRef);
      ops.push({
        cmd: 'HSET',
        key: scheduleKey,
        args: ['booked', String(after.booked), 'remaining', String(remaining(after))],
      });
      ops.push({
        cmd: 'HSET',
        key: keys.appointment(d.appointmentId),
        args: withPatient(
          pushed(
            appointmentFacts(after),
            'appointmentId',
            d.appointmentId,
            'status',
            'active',
            'bookedAt',
            d.bookedAt,
          ),
          anonymous ? undefined : d,
        ),
      });
      if (!anonymous) {
        ops.push({
          cmd: 'ZADD',
          key: keys.patientAppointments(d.patientRef),
          args: [sessionScore(after), d.appointmentId],
        });
      }
      // The day list: by booking time here; a numbered schedule's SlotTaken moves it to its slot.
      ops.push({
        cmd: 'ZADD',
        key: keys.scheduleAppointments(after.scheduleId),
        args: [String(Date.parse(d.bookedAt)), d.appointmentId],
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
      ops.push(...slotAppointmentOps(after, event, keys, forgotten));
      break;
  }
  ops.push(...slotFieldOps(view, after, scheduleKey));
  return { view: after, ops };
}

/** `args` with `more` appended (a fresh array of the caller's, extended in place: no copy). */
const pushed = (args: string[], ...more: string[]): string[] => {
  for (const a of more) args.push(a);
  return args;
};

const withPatient = (args: string[], patient?: { patientRef: string; patient: string }): string[] =>
  patient ? pushed(args, 'patientRef', patient.patientRef, 'patient', patient.patient) : args;

/** A numbered schedule's `slots` field and counts, when the event changed its slots. */
function slotFieldOps(before: ScheduleView | null, after: ScheduleView, key: string): RedisOp[] {
  if (!after.slots || after.slots === before?.slots) return [];
  return [
    {
      cmd: 'HSET',
      key,
      args: [
        SLOTS_FIELD,
        encodeSlotBook(after.slots),
        'booked',
        String(after.booked),
        'remaining',
        String(remaining(after)),
      ],
    },
  ];
}

/**
 * Pure: the same writes, fewer commands. Successive HSETs of one key merge (later fields win),
 * ZADDs of one key become one ZADD of all their pairs (applied in order, so a later score still
 * wins), HINCRBYs of one field and ZINCRBYs of one member add up — but only while no other command
 * on that key came between, so the result is identical. A backlog of 500 bookings on one schedule
 * becomes one HSET of the schedule, one ZADD of its day list and one HINCRBY per counter instead
 * of 500 of each. Linear in the ops: it runs on every event of every batch (the projector's hot
 * path), so merges mutate copies owned here instead of rebuilding arrays.
 */
const MAX_ZADD_ARGS = 2_000;

export function coalesceOps(ops: readonly RedisOp[]): RedisOp[] {
  const out: RedisOp[] = [];
  const last = new Map<string, number>(); // key → index in `out` of its latest op
  const fields = new Map<number, Map<string, string>>(); // index of a merged HSET → its fields
  const sums = new Map<number, number>(); // index of a merged HINCRBY / ZINCRBY → its running total
  const owned = new Set<number>(); // indices whose op is a copy made here (safe to mutate)
  const own = (i: number, op: RedisOp): RedisOp => {
    if (owned.has(i)) return op;
    owned.add(i);
    return (out[i] = { ...op, args: [...op.args] } as RedisOp);
  };
  for (const op of ops) {
    const i = last.get(op.key);
    const prev = i === undefined ? undefined : out[i];
    if (i !== undefined && prev && prev.cmd === op.cmd && merge(i, prev, op)) continue;
    last.set(op.key, out.length);
    out.push(op);
  }
  for (const [i, merged] of fields) {
    const args: string[] = [];
    for (const [field, value] of merged) args.push(field, value);
    out[i] = { cmd: 'HSET', key: out[i]!.key, args };
  }
  for (const [i, sum] of sums) {
    const op = out[i]!;
    if (op.cmd === 'HINCRBY') out[i] = { cmd: 'HINCRBY', key: op.key, args: [op.args[0], String(sum)] };
    else if (op.cmd === 'ZINCRBY') out[i] = { cmd: 'ZINCRBY', key: op.key, args: [String(sum), op.args[1]] };
  }
  return out;

  function merge(i: number, prev: RedisOp, op: RedisOp): boolean {
    switch (op.cmd) {
      case 'HSET': {
        let merged = fields.get(i);
        if (!merged) {
          merged = new Map();
          for (let k = 0; k < prev.args.length; k += 2) merged.set(prev.args[k]!, prev.args[k + 1]!);
          fields.set(i, merged);
        }
        for (let k = 0; k < op.args.length; k += 2) merged.set(op.args[k]!, op.args[k + 1]!);
        return true;
      }
      case 'ZADD':
        // The script passes a command's arguments through Lua's unpack, which stops at ~8,000.
        if (prev.args.length >= MAX_ZADD_ARGS) return false;
        own(i, prev).args.push(...op.args);
        return true;
      // Totals kept as numbers, written out once at the end.
      case 'HINCRBY':
        if (prev.args[0] !== op.args[0]) return false;
        sums.set(i, (sums.get(i) ?? Number(prev.args[1])) + Number(op.args[1]));
        return true;
      case 'ZINCRBY':
        if (prev.args[1] !== op.args[1]) return false;
        sums.set(i, (sums.get(i) ?? Number(prev.args[0])) + Number(op.args[0]));
        return true;
      default:
        return false;
    }
  }
}
