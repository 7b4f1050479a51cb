/**
 * The deadlines a decision's events set and settle (docs/adr/0011): the pure half of the
 * `deadlines` table the command path writes in the append's transaction. A hold's deadline is
 * set by its SlotTaken and settled by whatever ends the hold (a payment, a cancellation, its
 * expiry), so the table holds exactly the holds still open.
 */
import type { ScheduleStreamEvent } from './slot-state.ts';

export type DeadlineKind = 'hold_expiry';

export interface Deadline {
  appointmentId: string;
  kind: DeadlineKind;
  /** ISO instant; the poller fires ExpireHold for it at or after this. */
  dueAt: string;
}

export interface DeadlineChanges {
  set: Deadline[];
  /** Appointments whose hold deadline no longer needs firing. */
  settled: string[];
}

/** The rows to insert and delete for one decision's events, in order (a hold set and settled in one decision nets out). */
export function deadlineChangesOf(events: readonly ScheduleStreamEvent[]): DeadlineChanges {
  const due = new Map<string, Deadline>();
  const settled = new Set<string>();
  for (const e of events) {
    switch (e.type) {
      case 'SlotTaken':
        if (e.data.holdExpiresAt !== null)
          due.set(e.data.appointmentId, {
            appointmentId: e.data.appointmentId,
            kind: 'hold_expiry',
            dueAt: e.data.holdExpiresAt,
          });
        break;
      case 'PaymentConfirmed':
      case 'AppointmentCancelled':
      case 'HoldExpired':
        if (!due.delete(e.data.appointmentId)) settled.add(e.data.appointmentId);
        break;
      default:
        break;
    }
  }
  return { set: [...due.values()], settled: [...settled] };
}
