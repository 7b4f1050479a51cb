/** Domain rejections → the error catalogue (platform/http/errors.ts), as storable outcomes. */
import type { PatientRuleError } from '../domain/patient-rules.ts';
import type { ScheduleError } from '../domain/schedule.ts';
import type { SlotError } from '../domain/slot-state.ts';
import type { StoredOutcome } from '../platform/http/idempotency.ts';

export type ResponseOutcome = Extract<StoredOutcome, { kind: 'response' }>;
export type ProblemOutcome = Extract<StoredOutcome, { kind: 'problem' }>;

export const problem = (
  code: ProblemOutcome['code'],
  detail?: string,
  extra: Partial<ProblemOutcome> = {},
): ProblemOutcome => ({
  kind: 'problem',
  code,
  ...(detail ? { detail } : {}),
  ...extra,
});

export function problemFor(error: ScheduleError | SlotError | PatientRuleError): ProblemOutcome {
  switch (error.code) {
    case 'invalid_command':
      return problem('validation_failed', `Invalid field(s): ${error.field}`, {
        invalidParams: [{ name: error.field, reason: error.reason }],
      });
    case 'schedule_not_found':
      return problem('schedule_not_found');
    case 'schedule_already_exists':
      return problem('schedule_already_exists');
    case 'schedule_closed':
      return problem('schedule_closed');
    case 'session_started':
      return problem('session_started', `The session started at ${error.sessionStartsAt}`);
    case 'date_outside_horizon':
      return problem(
        'date_outside_horizon',
        `Schedules open from ${error.earliest} to ${error.latest} (hospital dates); ${error.date} is outside`,
        {
          invalidParams: [
            { name: 'date', reason: `expected a date from ${error.earliest} to ${error.latest}` },
          ],
        },
      );
    case 'schedule_full':
      return problem('schedule_full', `All ${error.capacity} places are taken`);
    case 'already_booked':
      return problem('already_booked', `Active appointment ${error.appointmentId}`);
    case 'appointment_not_found':
      return problem('appointment_not_found');
    case 'appointment_not_active':
      return problem('appointment_not_active');
    case 'not_appointment_holder':
      return problem('forbidden', 'Patients may only cancel their own appointments');
    case 'capacity_below_active':
      return problem('capacity_below_active', `${error.active} appointments are active`);
    case 'not_numbered':
      return problem('not_numbered', 'This schedule has no numbered slots');
    case 'slot_not_found':
      return problem('slot_not_found', `No slot ${error.slot} on this schedule`, {
        invalidParams: [{ name: 'slot', reason: 'no such slot on this schedule' }],
      });
    case 'slot_taken':
      return problem('slot_taken', `Slot ${error.slot} is taken`);
    case 'slot_reserved':
      return problem(
        'slot_reserved',
        `Slot ${error.slot} is reserved for channel ${error.channel} until ${error.releasesAt}`,
      );
    case 'hold_not_expired':
      return problem('hold_not_expired', `The hold lasts until ${error.deadline}`);
    case 'hold_expired':
      return problem('hold_expired', `The hold of appointment ${error.appointmentId} expired`);
    case 'payment_ref_conflict':
      return problem(
        'payment_ref_conflict',
        `Appointment ${error.appointmentId} was paid by another payment`,
      );
    case 'payment_amount_mismatch':
      return problem(
        'payment_amount_mismatch',
        `The fee is ${error.expected}; the payment was ${error.amount}`,
        {
          invalidParams: [{ name: 'amount', reason: `expected ${error.expected}` }],
        },
      );
    case 'not_confirmed':
      return problem('not_confirmed', `Appointment ${error.appointmentId} is not confirmed`);
    case 'too_early':
      return problem('too_early', `Not before ${error.earliest}`);
    case 'not_permitted':
      return problem('forbidden', error.reason);
    case 'already_waitlisted':
      return problem('already_waitlisted', `Waitlist entry ${error.entryId}`);
    case 'slot_available':
      return problem('slot_available');
    case 'waitlist_entry_not_found':
      return problem('waitlist_entry_not_found');
    case 'booking_closed':
      return problem('booking_closed', `Booking closed at ${error.cutoff}`);
    case 'cancellation_closed':
      return problem('cancellation_closed', `Patients could cancel until ${error.cutoff}`);
    case 'one_per_doctor_per_day':
      return problem(
        'one_per_doctor_per_day',
        `Active appointment ${error.appointmentId} with this doctor on this day`,
      );
    case 'too_many_active':
      return problem('too_many_active', `At most ${error.limit} active appointments`);
    case 'no_show_limited':
      return problem('no_show_limited', `${error.count} no-shows since ${error.since}`);
    case 'appointment_id_taken':
      // Server-generated uuids do not collide; this is a bug, not an outcome to store.
      throw new Error(`appointment id ${error.appointmentId} already used`);
    default:
      throw new Error(`unmapped domain error ${JSON.stringify(error satisfies never)}`);
  }
}
