import { describe, it } from 'vitest';
import { patient } from '../support/schedule-mother.ts';
import {
  aCheckIn,
  aNoShow,
  aNumberedOpen,
  aPayment,
  aPlan,
  aSlotBooking,
  given,
  SESSION_START,
  streamOf,
} from '../support/slot-mother.ts';

/** The session's day starts at 00:00 Shanghai (16:00 UTC the day before); 30 × 7 min end at 11:30. */
const DAY_STARTS = new Date('2030-01-14T16:00:00.000Z');
const SESSION_ENDS = new Date('2030-01-15T03:30:00.000Z');

const open = aNumberedOpen(aPlan({ reservations: [] }));
const booking = aSlotBooking(open.scheduleId, { patientRef: 'p1' });
const held = streamOf([open, booking]);
const confirmed = streamOf([open, booking, aPayment(booking.appointmentId)]);

describe('CheckIn', () => {
  it('checks a confirmed appointment in on the session day', () => {
    given(...confirmed)
      .when(aCheckIn(booking.appointmentId, DAY_STARTS))
      .thenTypes('PatientCheckedIn');
  });

  it('is refused before the session day', () => {
    given(...confirmed)
      .when(aCheckIn(booking.appointmentId, new Date(DAY_STARTS.getTime() - 1)))
      .thenRejectedWith('too_early');
  });

  it('is refused for a hold (unpaid) and for a patient actor', () => {
    given(...held)
      .when(aCheckIn(booking.appointmentId, SESSION_START))
      .thenRejectedWith('not_confirmed');
    given(...confirmed)
      .when({ ...aCheckIn(booking.appointmentId, SESSION_START), actor: patient('p1') })
      .thenRejectedWith('not_permitted');
  });

  it('twice records one check-in', () => {
    const checkedIn = streamOf([
      open,
      booking,
      aPayment(booking.appointmentId),
      aCheckIn(booking.appointmentId, SESSION_START),
    ]);
    given(...checkedIn)
      .when(aCheckIn(booking.appointmentId, SESSION_START))
      .thenNothing();
  });
});

describe('MarkNoShow', () => {
  it('marks a confirmed appointment once the session is over', () => {
    given(...confirmed)
      .when(aNoShow(booking.appointmentId, SESSION_ENDS))
      .thenTypes('NoShowMarked');
  });

  it('is refused before the session ends, after a check-in, and for a hold', () => {
    given(...confirmed)
      .when(aNoShow(booking.appointmentId, new Date(SESSION_ENDS.getTime() - 1)))
      .thenRejectedWith('too_early');
    const checkedIn = streamOf([
      open,
      booking,
      aPayment(booking.appointmentId),
      aCheckIn(booking.appointmentId, SESSION_START),
    ]);
    given(...checkedIn)
      .when(aNoShow(booking.appointmentId, SESSION_ENDS))
      .thenRejectedWith('appointment_not_active');
    given(...held)
      .when(aNoShow(booking.appointmentId, SESSION_ENDS))
      .thenRejectedWith('not_confirmed');
  });

  it('twice records one no-show, and a no-show cannot be checked in afterwards', () => {
    const noShow = streamOf([
      open,
      booking,
      aPayment(booking.appointmentId),
      aNoShow(booking.appointmentId, SESSION_ENDS),
    ]);
    given(...noShow)
      .when(aNoShow(booking.appointmentId, SESSION_ENDS))
      .thenNothing();
    given(...noShow)
      .when(aCheckIn(booking.appointmentId, SESSION_ENDS))
      .thenRejectedWith('appointment_not_active');
  });

  it('a checked-in or no-show appointment can no longer be cancelled', () => {
    const checkedIn = streamOf([
      open,
      booking,
      aPayment(booking.appointmentId),
      aCheckIn(booking.appointmentId, SESSION_START),
    ]);
    given(...checkedIn)
      .when({
        type: 'CancelAppointment',
        appointmentId: booking.appointmentId,
        actor: patient('p1'),
        now: SESSION_START,
      })
      .thenRejectedWith('appointment_not_active');
  });
});
