/** Domain rejections → the error catalogue (platform/http/errors.ts), as storable outcomes. */
import type { ScheduleError } from '../domain/schedule.ts';
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

export function problemFor(error: ScheduleError): ProblemOutcome {
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
    case 'appointment_id_taken':
      // Server-generated uuids do not collide; this is a bug, not an outcome to store.
      throw new Error(`appointment id ${error.appointmentId} already used`);
    default:
      throw new Error(`unmapped domain error ${JSON.stringify(error satisfies never)}`);
  }
}
