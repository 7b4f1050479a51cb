/**
 * What the audit trail records of a command (platform/audit.ts): every change a hospital or an
 * admin makes to a schedule or to a patient's appointment, one entry per event, written in the
 * command's own transaction. Patients acting for themselves are not audited (their events say so).
 * Entries name schedules and appointments by id, never a patient.
 */
import type { ScheduleStreamEvent } from '../domain/slot-state.ts';
import type { AuditEntry } from '../platform/audit.ts';
import type { Principal } from '../platform/http/auth.ts';

export type CommandAudit = (events: readonly ScheduleStreamEvent[]) => AuditEntry[];

export function commandAudit(principal: Principal): CommandAudit | undefined {
  if (principal.role === 'patient') return undefined;
  const actor = { role: principal.role, id: principal.sub, institutionId: principal.institutionId };
  const entry = (action: string, type: string, id: string, detail?: Record<string, unknown>): AuditEntry => ({
    actor,
    action,
    outcome: 'allowed',
    subject: { type, id },
    ...(detail ? { detail } : {}),
  });
  return (events) =>
    events.map((e) => {
      switch (e.type) {
        case 'ScheduleOpened':
          return entry('schedule.open', 'schedule', e.data.scheduleId, {
            institutionId: e.data.institutionId,
          });
        case 'CapacityChanged':
          return entry('schedule.change_capacity', 'schedule', e.data.scheduleId, {
            capacity: e.data.capacity,
          });
        case 'ScheduleClosed':
          return entry('schedule.close', 'schedule', e.data.scheduleId, {
            cancelledAppointments: e.data.cancelledAppointmentIds.length,
          });
        case 'AppointmentBooked':
          return entry('appointment.book', 'appointment', e.data.appointmentId, {
            scheduleId: e.data.scheduleId,
          });
        case 'AppointmentCancelled':
          return entry('appointment.cancel', 'appointment', e.data.appointmentId, {
            scheduleId: e.data.scheduleId,
          });
        case 'SlotsReleased':
          return entry('schedule.release_slots', 'schedule', e.data.scheduleId, {
            count: e.data.count,
            reservations: e.data.reservations.length,
          });
        case 'SlotTaken':
          return entry('appointment.take_slot', 'appointment', e.data.appointmentId, {
            scheduleId: e.data.scheduleId,
            slot: e.data.slot,
            source: e.data.source,
          });
        case 'PaymentConfirmed':
          return entry('appointment.confirm_payment', 'appointment', e.data.appointmentId, {
            scheduleId: e.data.scheduleId,
            paymentRef: e.data.paymentRef,
          });
        case 'HoldExpired':
          return entry('appointment.expire_hold', 'appointment', e.data.appointmentId, {
            scheduleId: e.data.scheduleId,
          });
        case 'RefundNeeded':
          return entry('appointment.refund_needed', 'appointment', e.data.appointmentId, {
            scheduleId: e.data.scheduleId,
            paymentRef: e.data.paymentRef,
          });
        case 'WaitlistJoined':
          return entry('waitlist.join', 'waitlist_entry', e.data.entryId, { scheduleId: e.data.scheduleId });
        case 'WaitlistLeft':
          return entry('waitlist.leave', 'waitlist_entry', e.data.entryId, { scheduleId: e.data.scheduleId });
        case 'PatientCheckedIn':
          return entry('appointment.check_in', 'appointment', e.data.appointmentId, {
            scheduleId: e.data.scheduleId,
          });
        case 'NoShowMarked':
          return entry('appointment.no_show', 'appointment', e.data.appointmentId, {
            scheduleId: e.data.scheduleId,
          });
        default: {
          const unhandled: never = e;
          throw new Error(`no audit entry for ${JSON.stringify(unhandled)}`);
        }
      }
    });
}
