/**
 * Booking a numbered slot and the life of its hold: held (a fee is due) → confirmed by a payment,
 * or expired at its deadline, or cancelled; free slots are confirmed at once. A slot freed by an
 * expiry or a cancellation is offered to the waitlist in the same decision. Pure; docs/adr/0012.
 *
 * Idempotence, as the deadline mechanism and the payment side need it:
 * - ConfirmPayment with the reference already recorded: accepted, no event.
 * - ExpireHold of a hold that is no longer held (confirmed, cancelled, already expired, attended):
 *   accepted, no event, so a deadline fired twice yields one HoldExpired.
 */
import type { Actor, CloseSchedule } from './schedule.ts';
import type { AppointmentCancelled } from './schedule-events.ts';
import { cancellationCutoff } from './patient-rules.ts';
import {
  accept,
  assertNever,
  type BookSlot,
  type CancelWithOffer,
  type ConfirmPayment,
  DEFAULT_CHANNEL,
  type ExpireHold,
  type Numbered,
  reject,
  type ScheduleStreamEvent,
  type SlotBooking,
  type SlotOptions,
  type StreamDecision,
} from './slot-state.ts';
import { pickSlot, slotStartsAt, takeSlot } from './slots.ts';
import { bookingRefusal, idTaken, offerFreedSlot } from './waitlist.ts';

export function bookNumbered(cmd: BookSlot, n: Numbered, o: SlotOptions): StreamDecision {
  const refusal = bookingRefusal(n, cmd.now, o);
  if (refusal) return refusal;
  const existing = n.schedule.activeByPatient.get(cmd.patientRef);
  if (existing !== undefined) return reject({ code: 'already_booked', appointmentId: existing });
  if (idTaken(n, cmd.appointmentId))
    return reject({ code: 'appointment_id_taken', appointmentId: cmd.appointmentId });
  const channel = cmd.channel ?? DEFAULT_CHANNEL;
  const picked = pickSlot(n.book, cmd.slot, channel, cmd.now);
  if (!picked.ok) return picked.decision;
  const taker = {
    appointmentId: cmd.appointmentId,
    patientRef: cmd.patientRef,
    patient: cmd.patient,
    channel,
  };
  return accept(...takeSlot(n, taker, picked.slot, 'booking', cmd.now, o.holdMinutes));
}

export function confirmPayment(cmd: ConfirmPayment, n: Numbered): StreamDecision {
  const b = n.book.bookings.get(cmd.appointmentId);
  if (!b) return reject({ code: 'appointment_not_found', appointmentId: cmd.appointmentId });
  // The same payment confirmed again (a retry, a duplicate webhook): nothing new happened.
  if (b.paymentRef === cmd.paymentRef) return accept();
  switch (b.status) {
    case 'held':
      // A payment that lands after the deadline but before the expiry was decided still counts:
      // the slot was never given away, and the money is in.
      if (cmd.amount !== b.amount)
        return reject({ code: 'payment_amount_mismatch', expected: b.amount, amount: cmd.amount });
      return accept(paymentConfirmed(cmd, n, b));
    case 'expired':
      return reject({ code: 'hold_expired', appointmentId: b.appointmentId });
    case 'confirmed':
    case 'checked_in':
    case 'no_show':
      return reject({ code: 'payment_ref_conflict', appointmentId: b.appointmentId });
    case 'cancelled':
      return reject({ code: 'appointment_not_active', appointmentId: b.appointmentId });
    default:
      return assertNever(b);
  }
}

const paymentConfirmed = (cmd: ConfirmPayment, n: Numbered, b: SlotBooking): ScheduleStreamEvent => ({
  type: 'PaymentConfirmed',
  data: {
    scheduleId: n.schedule.scheduleId,
    appointmentId: b.appointmentId,
    patientRef: b.patientRef,
    slot: b.slot,
    paymentRef: cmd.paymentRef,
    amount: cmd.amount,
    confirmedAt: cmd.now.toISOString(),
  },
});

export function expireHold(cmd: ExpireHold, n: Numbered, o: SlotOptions): StreamDecision {
  const b = n.book.bookings.get(cmd.appointmentId);
  if (!b) return reject({ code: 'appointment_not_found', appointmentId: cmd.appointmentId });
  // Settled already (paid, cancelled, expired by an earlier firing, attended): nothing to expire.
  if (b.status !== 'held') return accept();
  if (cmd.now.getTime() < Date.parse(b.holdExpiresAt))
    return reject({ code: 'hold_not_expired', appointmentId: b.appointmentId, deadline: b.holdExpiresAt });
  const { scheduleId } = n.schedule;
  const { appointmentId, patientRef, slot } = b;
  return accept(
    {
      type: 'HoldExpired',
      data: {
        scheduleId,
        appointmentId,
        patientRef,
        slot,
        deadline: b.holdExpiresAt,
        expiredAt: cmd.now.toISOString(),
      },
    },
    ...offerFreedSlot(n, slot, cmd.now, o, cmd.barredFromOffers),
  );
}

export function cancelNumbered(cmd: CancelWithOffer, n: Numbered, o: SlotOptions): StreamDecision {
  const b = n.book.bookings.get(cmd.appointmentId);
  if (!b) return reject({ code: 'appointment_not_found', appointmentId: cmd.appointmentId });
  if (cmd.actor.role === 'patient' && cmd.actor.id !== b.patientRef)
    return reject({ code: 'not_appointment_holder', appointmentId: b.appointmentId });
  if (b.status !== 'held' && b.status !== 'confirmed')
    return reject({ code: 'appointment_not_active', appointmentId: b.appointmentId });
  const cutoff = cancellationCutoff(slotStartsAt(n.book.plan, b.slot), o);
  // Later than the cut-off a patient cannot cancel (a no-show risk); the hospital still can.
  if (cmd.actor.role === 'patient' && cmd.now.getTime() >= cutoff.getTime())
    return reject({ code: 'cancellation_closed', cutoff: cutoff.toISOString() });
  return accept(
    ...cancellationOf(n, b, cmd.actor, cmd.reason ?? null, cmd.now),
    ...offerFreedSlot(n, b.slot, cmd.now, o, cmd.barredFromOffers),
  );
}

/** AppointmentCancelled, and RefundNeeded when a payment confirmed it. */
export function cancellationOf(
  n: Numbered,
  b: SlotBooking,
  actor: Actor,
  reason: string | null,
  now: Date,
): ScheduleStreamEvent[] {
  const at = now.toISOString();
  const { scheduleId } = n.schedule;
  const { appointmentId, patientRef } = b;
  const cancelled: AppointmentCancelled = {
    type: 'AppointmentCancelled',
    data: { scheduleId, appointmentId, patientRef, reason, cancelledBy: actor, cancelledAt: at },
  };
  if (b.status !== 'confirmed' || b.paymentRef === null) return [cancelled];
  const refund = {
    scheduleId,
    appointmentId,
    patientRef,
    paymentRef: b.paymentRef,
    amount: b.amount,
    recordedAt: at,
  };
  return [cancelled, { type: 'RefundNeeded', data: refund }];
}

/** Closing cancels every held or confirmed appointment (refunds recorded) and ends the waitlist. */
export function closeNumbered(cmd: CloseSchedule, n: Numbered): StreamDecision {
  if (n.schedule.status !== 'open') return reject({ code: 'schedule_closed' });
  if (cmd.reason.trim() === '')
    return reject({ code: 'invalid_command', field: 'reason', reason: 'required' });
  const live = [...n.book.bookings.values()].filter((b) => b.status === 'held' || b.status === 'confirmed');
  const cancellations = live.flatMap((b) => cancellationOf(n, b, cmd.actor, cmd.reason, cmd.now));
  return accept(...cancellations, {
    type: 'ScheduleClosed',
    data: {
      scheduleId: n.schedule.scheduleId,
      reason: cmd.reason,
      cancelledAppointmentIds: live.map((b) => b.appointmentId),
      closedBy: cmd.actor,
      closedAt: cmd.now.toISOString(),
    },
  });
}
