/**
 * Numbered slots (号源): releasing them with a schedule, their times, which channel may take
 * which slot when, and the events of taking one. Pure; see docs/adr/0012.
 */
import { decide as decideCapacity } from './schedule.ts';
import type { SlotsReleased } from './slot-events.ts';
import {
  accept,
  addMinutes,
  MAX_INTERVAL_MINUTES,
  MAX_SLOTS,
  type Numbered,
  reject,
  type Reservation,
  type ReservationInput,
  type ScheduleStreamEvent,
  type SlotBook,
  type SlotPlan,
  type SlotPlanInput,
  type OpenWithSlots,
  type StreamDecision,
  type StreamState,
} from './slot-state.ts';
import { HOSPITAL_UTC_OFFSET } from './session-time.ts';

const HH_MM = /^([01]\d|2[0-3]):[0-5]\d$/;

type Problem = { field: string; reason: string } | null;

const isWhole = (n: number, min: number, max: number): boolean => Number.isInteger(n) && n >= min && n <= max;

function reservationProblem(r: ReservationInput, count: number): Problem {
  if (r.channel.trim() === '') return { field: 'slots.reservations.channel', reason: 'required' };
  if (!isWhole(r.from, 1, count) || !isWhole(r.to, r.from, count))
    return { field: 'slots.reservations', reason: `expected 1 <= from <= to <= ${count}` };
  if (Number.isNaN(r.releasesAt.getTime()))
    return { field: 'slots.reservations.releasesAt', reason: 'expected an instant' };
  return null;
}

/** The plan's shape: times, counts and non-overlapping reservations. */
function planProblem(plan: SlotPlanInput): Problem {
  if (!HH_MM.test(plan.firstSlotTime)) return { field: 'slots.firstSlotTime', reason: 'expected HH:MM' };
  if (!isWhole(plan.intervalMinutes, 1, MAX_INTERVAL_MINUTES))
    return { field: 'slots.intervalMinutes', reason: `expected an integer 1..${MAX_INTERVAL_MINUTES}` };
  if (!isWhole(plan.count, 1, MAX_SLOTS))
    return { field: 'slots.count', reason: `expected an integer 1..${MAX_SLOTS}` };
  const reservations = [...(plan.reservations ?? [])].sort((a, b) => a.from - b.from);
  for (const [i, r] of reservations.entries()) {
    const problem = reservationProblem(r, plan.count);
    if (problem) return problem;
    const previous = reservations[i - 1];
    if (previous && previous.to >= r.from)
      return { field: 'slots.reservations', reason: 'reservations overlap' };
  }
  return null;
}

const toPlan = (input: SlotPlanInput, date: string): SlotPlan => ({
  firstSlotAt: new Date(`${date}T${input.firstSlotTime}:00${HOSPITAL_UTC_OFFSET}`).toISOString(),
  intervalMinutes: input.intervalMinutes,
  count: input.count,
  reservations: (input.reservations ?? []).map((r) => ({ ...r, releasesAt: r.releasesAt.toISOString() })),
});

/**
 * ScheduleOpened (decided by the capacity decider with capacity = slot count: the date, period,
 * fee and horizon rules are the same) followed by SlotsReleased.
 */
export function openNumbered(cmd: OpenWithSlots, input: SlotPlanInput, state: StreamState): StreamDecision {
  const problem = planProblem(input);
  if (problem) return reject({ code: 'invalid_command', ...problem });
  const opened = decideCapacity({ ...cmd, capacity: input.count }, state.schedule);
  if (!opened.ok) return opened;
  const plan = toPlan(input, cmd.date);
  const [event] = opened.events;
  if (event?.type === 'ScheduleOpened' && plan.firstSlotAt < event.data.sessionStartsAt)
    return reject({
      code: 'invalid_command',
      field: 'slots.firstSlotTime',
      reason: 'before the session starts',
    });
  const released: SlotsReleased = {
    type: 'SlotsReleased',
    data: { scheduleId: cmd.scheduleId, ...plan, reservations: [...plan.reservations] },
  };
  return accept(...opened.events, released);
}

export const slotStartsAt = (plan: SlotPlan, slot: number): string =>
  addMinutes(plan.firstSlotAt, (slot - 1) * plan.intervalMinutes).toISOString();

/** When the last slot ends: the session is over (no-shows may be marked). */
export const sessionEndsAt = (plan: SlotPlan): Date =>
  addMinutes(plan.firstSlotAt, plan.count * plan.intervalMinutes);

/** The reservation that keeps `channel` from `slot` at `now`, or null when it may take it. */
export function blockingReservation(
  plan: SlotPlan,
  slot: number,
  channel: string,
  now: Date,
): Reservation | null {
  const r = plan.reservations.find((x) => slot >= x.from && slot <= x.to);
  if (!r || r.channel === channel || now.getTime() >= Date.parse(r.releasesAt)) return null;
  return r;
}

/** The lowest free slot `channel` may take at `now`. */
export function nextFreeSlot(book: SlotBook, channel: string, now: Date): number | undefined {
  for (let slot = 1; slot <= book.plan.count; slot++) {
    if (!book.taken.has(slot) && !blockingReservation(book.plan, slot, channel, now)) return slot;
  }
  return undefined;
}

/** The slot asked for (or the next free one), or why it cannot be had. */
export function pickSlot(
  book: SlotBook,
  wanted: number | undefined,
  channel: string,
  now: Date,
): { ok: true; slot: number } | { ok: false; decision: StreamDecision } {
  if (wanted === undefined) {
    const slot = nextFreeSlot(book, channel, now);
    if (slot !== undefined) return { ok: true, slot };
    return { ok: false, decision: reject({ code: 'schedule_full', capacity: book.plan.count }) };
  }
  if (!isWhole(wanted, 1, book.plan.count))
    return { ok: false, decision: reject({ code: 'slot_not_found', slot: wanted }) };
  if (book.taken.has(wanted)) return { ok: false, decision: reject({ code: 'slot_taken', slot: wanted }) };
  const r = blockingReservation(book.plan, wanted, channel, now);
  if (r) {
    const error = {
      code: 'slot_reserved',
      slot: wanted,
      channel: r.channel,
      releasesAt: r.releasesAt,
    } as const;
    return { ok: false, decision: reject(error) };
  }
  return { ok: true, slot: wanted };
}

/** Who takes a slot: a booking patient, or the waiting patient it is offered to. */
export interface Taker {
  appointmentId: string;
  patientRef: string;
  patient: string;
  channel: string;
}

/**
 * AppointmentBooked (the appointment exists, as on any schedule) and SlotTaken: held for
 * `holdMinutes` when there is a fee, confirmed at once when there is none.
 */
export function takeSlot(
  n: Numbered,
  taker: Taker,
  slot: number,
  source: 'booking' | 'waitlist',
  now: Date,
  holdMinutes: number,
): ScheduleStreamEvent[] {
  const { scheduleId, fee } = n.schedule;
  const at = now.toISOString();
  const { appointmentId, patientRef, patient, channel } = taker;
  return [
    { type: 'AppointmentBooked', data: { scheduleId, appointmentId, patientRef, patient, bookedAt: at } },
    {
      type: 'SlotTaken',
      data: {
        scheduleId,
        appointmentId,
        patientRef,
        slot,
        slotStartsAt: slotStartsAt(n.book.plan, slot),
        channel,
        source,
        amount: fee,
        holdExpiresAt: fee > 0 ? addMinutes(now, holdMinutes).toISOString() : null,
        takenAt: at,
      },
    },
  ];
}
