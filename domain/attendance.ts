/**
 * Check-in and no-show on a numbered schedule: the hospital checks a confirmed appointment in
 * (from the session's day on), or marks it a no-show once the session is over. Both repeat as
 * no-ops, so a retried call records one event.
 */
import {
  accept,
  assertNever,
  type CheckIn,
  type MarkNoShow,
  type Numbered,
  reject,
  type SlotBooking,
  type StreamDecision,
} from './slot-state.ts';
import { HOSPITAL_UTC_OFFSET } from './session-time.ts';
import { sessionEndsAt } from './slots.ts';

type Attending = CheckIn | MarkNoShow;

/** The confirmed booking the command is about, or why there is none to attend. */
function confirmedBooking(
  cmd: Attending,
  n: Numbered,
): { ok: true; b: SlotBooking } | { ok: false; d: StreamDecision } {
  if (cmd.actor.role === 'patient')
    return { ok: false, d: reject({ code: 'not_permitted', reason: 'the hospital records attendance' }) };
  const b = n.book.bookings.get(cmd.appointmentId);
  if (!b)
    return { ok: false, d: reject({ code: 'appointment_not_found', appointmentId: cmd.appointmentId }) };
  switch (b.status) {
    case 'held':
      return { ok: false, d: reject({ code: 'not_confirmed', appointmentId: b.appointmentId }) };
    case 'confirmed':
    case 'checked_in':
    case 'no_show':
      return { ok: true, b };
    case 'cancelled':
    case 'expired':
      return { ok: false, d: reject({ code: 'appointment_not_active', appointmentId: b.appointmentId }) };
    default:
      return assertNever(b);
  }
}

const attendanceData = (n: Numbered, b: SlotBooking) => ({
  scheduleId: n.schedule.scheduleId,
  appointmentId: b.appointmentId,
  patientRef: b.patientRef,
  slot: b.slot,
});

export function checkIn(cmd: CheckIn, n: Numbered): StreamDecision {
  const found = confirmedBooking(cmd, n);
  if (!found.ok) return found.d;
  const { b } = found;
  if (b.status === 'checked_in') return accept();
  if (b.status === 'no_show')
    return reject({ code: 'appointment_not_active', appointmentId: b.appointmentId });
  const dayStarts = new Date(`${n.schedule.date}T00:00:00${HOSPITAL_UTC_OFFSET}`);
  if (cmd.now.getTime() < dayStarts.getTime())
    return reject({ code: 'too_early', earliest: dayStarts.toISOString() });
  return accept({
    type: 'PatientCheckedIn',
    data: { ...attendanceData(n, b), checkedInBy: cmd.actor, checkedInAt: cmd.now.toISOString() },
  });
}

export function markNoShow(cmd: MarkNoShow, n: Numbered): StreamDecision {
  const found = confirmedBooking(cmd, n);
  if (!found.ok) return found.d;
  const { b } = found;
  if (b.status === 'no_show') return accept();
  if (b.status === 'checked_in')
    return reject({ code: 'appointment_not_active', appointmentId: b.appointmentId });
  const ends = sessionEndsAt(n.book.plan);
  if (cmd.now.getTime() < ends.getTime()) return reject({ code: 'too_early', earliest: ends.toISOString() });
  return accept({
    type: 'NoShowMarked',
    data: { ...attendanceData(n, b), markedBy: cmd.actor, markedAt: cmd.now.toISOString() },
  });
}
