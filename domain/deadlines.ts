/**
 * The deadlines a decision's events set and settle (docs/adr/0012): the pure half of the
 * `deadlines` table the command path writes in the append's transaction, and the command each
 * one fires. A hold's deadline is set by its SlotTaken and settled by whatever ends the hold (a
 * payment, a cancellation, its expiry), so the table holds exactly the holds still open; a
 * reservation's release time is set by SlotsReleased and fired once (offering what it frees).
 */
import { assertNever, type ScheduleStreamCommand, type ScheduleStreamEvent } from './slot-state.ts';

/** `subject` is the appointment (hold_expiry) or the schedule (slot_release): the row's key with `kind` and `dueAt`. */
export type Deadline =
  | { kind: 'hold_expiry'; subject: string; dueAt: string }
  | { kind: 'slot_release'; subject: string; dueAt: string };

export interface DeadlineChanges {
  set: Deadline[];
  /** Appointments whose hold deadline no longer needs firing (deleting a missing row is harmless). */
  settledHolds: string[];
}

const releasesOf = (e: Extract<ScheduleStreamEvent, { type: 'SlotsReleased' }>): Deadline[] =>
  [...new Set(e.data.reservations.map((r) => r.releasesAt))].map((dueAt) => ({
    kind: 'slot_release',
    subject: e.data.scheduleId,
    dueAt,
  }));

/** The rows to insert and delete for one decision's events, in order. */
export function deadlineChangesOf(events: readonly ScheduleStreamEvent[]): DeadlineChanges {
  const holds = new Map<string, Deadline>();
  const releases: Deadline[] = [];
  const settled = new Set<string>();
  for (const e of events) {
    switch (e.type) {
      case 'SlotsReleased':
        releases.push(...releasesOf(e));
        break;
      case 'SlotTaken':
        if (e.data.holdExpiresAt !== null)
          holds.set(e.data.appointmentId, {
            kind: 'hold_expiry',
            subject: e.data.appointmentId,
            dueAt: e.data.holdExpiresAt,
          });
        break;
      case 'PaymentConfirmed':
      case 'AppointmentCancelled':
      case 'HoldExpired':
        if (!holds.delete(e.data.appointmentId)) settled.add(e.data.appointmentId);
        break;
      default:
        break;
    }
  }
  return { set: [...releases, ...holds.values()], settledHolds: [...settled] };
}

/**
 * The command a due deadline fires through the command path, at the poller's `now` (never the
 * deadline itself: the decider judges the real time). Firing it again is a no-op or refused.
 */
export function deadlineCommand(
  d: Deadline,
  now: Date,
  barredFromOffers: readonly string[] = [],
): ScheduleStreamCommand {
  switch (d.kind) {
    case 'hold_expiry':
      return { type: 'ExpireHold', appointmentId: d.subject, now, barredFromOffers };
    case 'slot_release':
      return { type: 'OfferFreeSlots', scheduleId: d.subject, now, barredFromOffers };
    default:
      return assertNever(d);
  }
}
