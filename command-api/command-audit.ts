/**
 * What the audit trail records of a command (platform/audit.ts): every change a hospital or an
 * admin makes to a schedule or to a patient's appointment, one entry per event, written in the
 * command's own transaction. Patients acting for themselves are not audited (their events say so).
 * Entries name schedules and appointments by id, never a patient.
 */
import type { ScheduleEvent } from '../domain/schedule.ts';
import type { AuditEntry } from '../platform/audit.ts';
import type { Principal } from '../platform/http/auth.ts';

export type CommandAudit = (events: readonly ScheduleEvent[]) => AuditEntry[];

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
        default: {
          const unhandled: never = e;
          throw new Error(`no audit entry for ${JSON.stringify(unhandled)}`);
        }
      }
    });
}
