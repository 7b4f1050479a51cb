import { describe, expect, it } from 'vitest';
import { foldStream } from '../../domain/schedule-stream.ts';
import { defaultSlotOptions } from '../../domain/slot-state.ts';
import { aCancellation, aClosure, BEFORE_SESSION, hospital, patient } from '../support/schedule-mother.ts';
import {
  aNumberedOpen,
  anExpiry,
  aPayment,
  aPlan,
  aSlotBooking,
  dataOf,
  given,
  SESSION_START,
  streamOf,
} from '../support/slot-mother.ts';

const minutes = (n: number): number => n * 60_000;
const DEADLINE = new Date(BEFORE_SESSION.getTime() + minutes(15));

describe('a hold: booking a slot with a fee', () => {
  const open = aNumberedOpen(aPlan({ reservations: [] }));
  const booking = aSlotBooking(open.scheduleId, { patientRef: 'p1' });

  it('takes the slot at once and holds it for 15 minutes by default', () => {
    given(...streamOf([open]))
      .when(booking)
      .then([
        {
          type: 'AppointmentBooked',
          data: {
            scheduleId: open.scheduleId,
            appointmentId: booking.appointmentId,
            patientRef: 'p1',
            patient: booking.patient,
            bookedAt: BEFORE_SESSION.toISOString(),
          },
        },
        {
          type: 'SlotTaken',
          data: {
            scheduleId: open.scheduleId,
            appointmentId: booking.appointmentId,
            patientRef: 'p1',
            slot: 1,
            slotStartsAt: SESSION_START.toISOString(),
            channel: 'online',
            source: 'booking',
            amount: open.fee,
            holdExpiresAt: DEADLINE.toISOString(),
            takenAt: BEFORE_SESSION.toISOString(),
          },
        },
      ]);
  });

  it('holds for the configured minutes', () => {
    const { decision } = given(...streamOf([open])).when(booking, { ...defaultSlotOptions, holdMinutes: 5 });
    const expected = new Date(BEFORE_SESSION.getTime() + minutes(5)).toISOString();
    expect(decision.ok && dataOf(decision.events, 'SlotTaken')[0]?.holdExpiresAt).toBe(expected);
  });

  it('confirms a free slot (fee 0) at once: no hold, no deadline', () => {
    const free = aNumberedOpen(aPlan(), { fee: 0 });
    const events = streamOf([free, aSlotBooking(free.scheduleId)]);
    expect(dataOf(events, 'SlotTaken')[0]?.holdExpiresAt).toBeNull();
    expect([...foldStream(events).book!.bookings.values()][0]?.status).toBe('confirmed');
  });
});

describe('ConfirmPayment', () => {
  const open = aNumberedOpen(aPlan({ reservations: [] }));
  const booking = aSlotBooking(open.scheduleId);
  const held = streamOf([open, booking]);
  const payment = aPayment(booking.appointmentId, { paymentRef: 'pay-1' });

  it('confirms a held appointment', () => {
    given(...held)
      .when(payment)
      .then([
        {
          type: 'PaymentConfirmed',
          data: {
            scheduleId: open.scheduleId,
            appointmentId: booking.appointmentId,
            patientRef: booking.patientRef,
            slot: 1,
            paymentRef: 'pay-1',
            amount: 5000,
            confirmedAt: BEFORE_SESSION.toISOString(),
          },
        },
      ]);
  });

  it('is idempotent by payment reference: the same reference again records nothing', () => {
    const confirmed = streamOf([open, booking, payment]);
    given(...confirmed)
      .when(payment)
      .thenNothing();
    given(...confirmed)
      .when(aPayment(booking.appointmentId, { paymentRef: 'pay-2' }))
      .thenRejectedWith('payment_ref_conflict');
  });

  it('refuses an amount other than the fee', () => {
    given(...held)
      .when(aPayment(booking.appointmentId, { amount: 4999 }))
      .thenRejectedWith('payment_amount_mismatch');
  });

  it('still confirms a payment that lands after the deadline, before the expiry was decided', () => {
    given(...held)
      .when(aPayment(booking.appointmentId, { now: new Date(DEADLINE.getTime() + 1) }))
      .thenTypes('PaymentConfirmed');
  });

  it('refuses a payment for an expired hold, a cancelled appointment and an unknown one', () => {
    const expired = streamOf([open, booking, anExpiry(booking.appointmentId, DEADLINE)]);
    given(...expired)
      .when(payment)
      .thenRejectedWith('hold_expired');
    const cancelled = streamOf([open, booking, aCancellation(booking.appointmentId)]);
    given(...cancelled)
      .when(payment)
      .thenRejectedWith('appointment_not_active');
    given(...held)
      .when(aPayment('nope'))
      .thenRejectedWith('appointment_not_found');
  });

  it('refuses a payment for a free appointment (nothing was due)', () => {
    const free = aNumberedOpen(aPlan(), { fee: 0 });
    const b = aSlotBooking(free.scheduleId);
    given(...streamOf([free, b]))
      .when(aPayment(b.appointmentId, { amount: 0 }))
      .thenRejectedWith('payment_ref_conflict');
  });
});

describe('ExpireHold', () => {
  const open = aNumberedOpen(aPlan({ reservations: [] }));
  const booking = aSlotBooking(open.scheduleId);
  const held = streamOf([open, booking]);

  it('is refused before the deadline', () => {
    given(...held)
      .when(anExpiry(booking.appointmentId, new Date(DEADLINE.getTime() - 1)))
      .thenRejectedWith('hold_not_expired');
  });

  it('at the deadline returns the slot to the pool', () => {
    given(...held)
      .when(anExpiry(booking.appointmentId, DEADLINE))
      .then([
        {
          type: 'HoldExpired',
          data: {
            scheduleId: open.scheduleId,
            appointmentId: booking.appointmentId,
            patientRef: booking.patientRef,
            slot: 1,
            deadline: DEADLINE.toISOString(),
            expiredAt: DEADLINE.toISOString(),
          },
        },
      ]);
    const after = streamOf([open, booking, anExpiry(booking.appointmentId, DEADLINE)]);
    const state = foldStream(after);
    expect(state.book!.taken.has(1)).toBe(false);
    expect(state.schedule.status !== 'initial' && state.schedule.activeByPatient.size).toBe(0);
    given(...after)
      .when(aSlotBooking(open.scheduleId, { slot: 1, now: DEADLINE }))
      .thenTypes('AppointmentBooked', 'SlotTaken');
  });

  it('fired twice (a crash after the first) records one HoldExpired', () => {
    const once = streamOf([open, booking, anExpiry(booking.appointmentId, DEADLINE)]);
    given(...once)
      .when(anExpiry(booking.appointmentId, new Date(DEADLINE.getTime() + 5000)))
      .thenNothing();
  });

  it('of a confirmed or cancelled appointment does nothing', () => {
    const paid = streamOf([open, booking, aPayment(booking.appointmentId)]);
    given(...paid)
      .when(anExpiry(booking.appointmentId, DEADLINE))
      .thenNothing();
    const cancelled = streamOf([open, booking, aCancellation(booking.appointmentId)]);
    given(...cancelled)
      .when(anExpiry(booking.appointmentId, DEADLINE))
      .thenNothing();
  });

  it('of an unknown appointment is refused', () => {
    given(...held)
      .when(anExpiry('nope', DEADLINE))
      .thenRejectedWith('appointment_not_found');
  });
});

describe('CancelAppointment on a numbered schedule', () => {
  const open = aNumberedOpen(aPlan({ reservations: [] }));
  const booking = aSlotBooking(open.scheduleId, { patientRef: 'p1' });
  const payment = aPayment(booking.appointmentId, { paymentRef: 'pay-1' });

  it('cancels a hold and frees its slot, with no refund (nothing was paid)', () => {
    const held = streamOf([open, booking]);
    given(...held)
      .when(aCancellation(booking.appointmentId, { actor: patient('p1') }))
      .thenTypes('AppointmentCancelled');
    const after = streamOf([open, booking, aCancellation(booking.appointmentId)]);
    expect(foldStream(after).book!.taken.size).toBe(0);
  });

  it('records refund-needed when a paid, confirmed appointment is cancelled', () => {
    const paid = streamOf([open, booking, payment]);
    const { decision } = given(...paid).when(aCancellation(booking.appointmentId));
    expect(decision.ok && decision.events.map((e) => e.type)).toEqual([
      'AppointmentCancelled',
      'RefundNeeded',
    ]);
    expect(decision.ok && dataOf(decision.events, 'RefundNeeded')[0]).toMatchObject({
      paymentRef: 'pay-1',
      amount: 5000,
      patientRef: 'p1',
    });
  });

  it('refuses another patient, a second cancel, and an unknown appointment', () => {
    const held = streamOf([open, booking]);
    given(...held)
      .when(aCancellation(booking.appointmentId, { actor: patient('p2') }))
      .thenRejectedWith('not_appointment_holder');
    const cancelled = streamOf([open, booking, aCancellation(booking.appointmentId)]);
    given(...cancelled)
      .when(aCancellation(booking.appointmentId))
      .thenRejectedWith('appointment_not_active');
    given(...held)
      .when(aCancellation('nope'))
      .thenRejectedWith('appointment_not_found');
  });

  it('closes to patients at the cancellation cut-off; the hospital may still cancel', () => {
    const options = { ...defaultSlotOptions, cancellationCutoffMinutes: 120 };
    const paid = streamOf([open, booking, payment]);
    const cutoff = new Date(SESSION_START.getTime() - minutes(120));
    given(...paid)
      .when(aCancellation(booking.appointmentId, { actor: patient('p1'), now: cutoff }), options)
      .thenRejectedWith('cancellation_closed');
    given(...paid)
      .when(
        aCancellation(booking.appointmentId, { actor: patient('p1'), now: new Date(cutoff.getTime() - 1) }),
        options,
      )
      .thenTypes('AppointmentCancelled', 'RefundNeeded');
    given(...paid)
      .when(aCancellation(booking.appointmentId, { actor: hospital(), now: cutoff }), options)
      .thenTypes('AppointmentCancelled', 'RefundNeeded');
  });
});

describe('CloseSchedule on a numbered schedule', () => {
  it('cancels every held and confirmed appointment, recording refunds for the paid ones', () => {
    const open = aNumberedOpen(aPlan({ reservations: [] }));
    const paidBooking = aSlotBooking(open.scheduleId);
    const heldBooking = aSlotBooking(open.scheduleId);
    const history = streamOf([open, paidBooking, aPayment(paidBooking.appointmentId), heldBooking]);
    const { decision } = given(...history).when(aClosure());
    expect(decision.ok && decision.events.map((e) => e.type)).toEqual([
      'AppointmentCancelled',
      'RefundNeeded',
      'AppointmentCancelled',
      'ScheduleClosed',
    ]);
    if (!decision.ok) return;
    const state = foldStream([...history, ...decision.events]);
    expect(state.schedule.status).toBe('closed');
    expect(state.book!.taken.size).toBe(0);
  });
});
