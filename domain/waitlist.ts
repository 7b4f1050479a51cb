/**
 * The waitlist (候补) of a numbered schedule: joining when no slot is free, leaving, and the offer
 * of a freed slot to the first waiting patient who may take it. The offer is part of the decision
 * that freed the slot (a cancellation or an expiry), so it happens exactly once, with it.
 */
import { bookingCutoff } from './patient-rules.ts';
import {
  accept,
  DEFAULT_CHANNEL,
  type JoinWaitlist,
  type LeaveWaitlist,
  type OfferFreeSlots,
  type Numbered,
  reject,
  type ScheduleStreamEvent,
  type SlotOptions,
  type StreamDecision,
} from './slot-state.ts';
import { blockingReservation, nextFreeSlot, takeSlot } from './slots.ts';

/** Why no one may book (or wait) on this schedule now, or null. */
export function bookingRefusal(n: Numbered, now: Date, o: SlotOptions): StreamDecision | null {
  const s = n.schedule;
  if (s.status === 'closed') return reject({ code: 'schedule_closed' });
  if (now.getTime() >= Date.parse(s.sessionStartsAt))
    return reject({ code: 'session_started', sessionStartsAt: s.sessionStartsAt });
  const cutoff = bookingCutoff(s.sessionStartsAt, o);
  if (now.getTime() >= cutoff.getTime())
    return reject({ code: 'booking_closed', cutoff: cutoff.toISOString() });
  return null;
}

/** An id already names an appointment or a waiting patient on this schedule. */
export const idTaken = (n: Numbered, id: string): boolean =>
  n.schedule.appointments.has(id) || n.book.waitlist.some((e) => e.entryId === id);

export function joinWaitlist(cmd: JoinWaitlist, n: Numbered, o: SlotOptions): StreamDecision {
  const refusal = bookingRefusal(n, cmd.now, o);
  if (refusal) return refusal;
  const existing = n.schedule.activeByPatient.get(cmd.patientRef);
  if (existing !== undefined) return reject({ code: 'already_booked', appointmentId: existing });
  const waiting = n.book.waitlist.find((e) => e.patientRef === cmd.patientRef);
  if (waiting) return reject({ code: 'already_waitlisted', entryId: waiting.entryId });
  if (idTaken(n, cmd.entryId)) return reject({ code: 'appointment_id_taken', appointmentId: cmd.entryId });
  const channel = cmd.channel ?? DEFAULT_CHANNEL;
  if (nextFreeSlot(n.book, channel, cmd.now) !== undefined) return reject({ code: 'slot_available' });
  return accept({
    type: 'WaitlistJoined',
    data: {
      scheduleId: n.schedule.scheduleId,
      entryId: cmd.entryId,
      patientRef: cmd.patientRef,
      patient: cmd.patient,
      channel,
      joinedAt: cmd.now.toISOString(),
    },
  });
}

export function leaveWaitlist(cmd: LeaveWaitlist, n: Numbered): StreamDecision {
  const entry = n.book.waitlist.find((e) => e.entryId === cmd.entryId);
  if (!entry) return reject({ code: 'waitlist_entry_not_found', entryId: cmd.entryId });
  if (cmd.actor.role === 'patient' && cmd.actor.id !== entry.patientRef)
    return reject({ code: 'not_appointment_holder', appointmentId: cmd.entryId });
  return accept({
    type: 'WaitlistLeft',
    data: {
      scheduleId: n.schedule.scheduleId,
      entryId: entry.entryId,
      patientRef: entry.patientRef,
      leftBy: cmd.actor,
      leftAt: cmd.now.toISOString(),
    },
  });
}

/**
 * The events offering a just-freed `slot` to the first waiting patient who may take it (their
 * channel may, and the per-patient rules do not bar them): a hold of `offerMinutes` (confirmed at
 * once when there is no fee). None while booking is closed, or when no one fits.
 */
export function offerFreedSlot(
  n: Numbered,
  slot: number,
  now: Date,
  o: SlotOptions,
  barred: readonly string[] = [],
): ScheduleStreamEvent[] {
  if (bookingRefusal(n, now, o)) return [];
  const entry = n.book.waitlist.find(
    (e) => !barred.includes(e.patientRef) && !blockingReservation(n.book.plan, slot, e.channel, now),
  );
  if (!entry) return [];
  const taker = { ...entry, appointmentId: entry.entryId };
  return takeSlot(n, taker, slot, 'waitlist', now, o.offerMinutes);
}

/** Each free slot, lowest first, to the first waiting patient who may take it and has none yet. */
export function offerFreeSlots(cmd: OfferFreeSlots, n: Numbered, o: SlotOptions): StreamDecision {
  if (bookingRefusal(n, cmd.now, o)) return accept();
  const offered = new Set(cmd.barredFromOffers ?? []);
  const events: ScheduleStreamEvent[] = [];
  for (let slot = 1; slot <= n.book.plan.count; slot++) {
    if (n.book.taken.has(slot)) continue;
    const entry = n.book.waitlist.find(
      (e) => !offered.has(e.patientRef) && !blockingReservation(n.book.plan, slot, e.channel, cmd.now),
    );
    if (!entry) continue;
    offered.add(entry.patientRef);
    events.push(
      ...takeSlot(n, { ...entry, appointmentId: entry.entryId }, slot, 'waitlist', cmd.now, o.offerMinutes),
    );
  }
  return accept(...events);
}
