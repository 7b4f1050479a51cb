/**
 * The audit entry of a rush-mode booking made by a hospital or an admin (docs/adr/0015 §10): the
 * synchronous path's `appointment.book` entry (command-audit.ts) — same actor, action and subject,
 * the appointment id the request keeps — written in the transaction that accepts the request
 * (marks it queued and completes its key). The booking act is what is audited, at the moment it is
 * made; `detail.requestId` leads to its outcome (booked, or rejected with the reason), which the
 * processor decides later. Patients acting for themselves are not audited, as on the other path.
 */
import type { AuditEntry } from '../platform/audit.ts';
import type { Principal } from '../platform/http/auth.ts';

export function acceptedBookingAudit(
  principal: Principal,
  r: { appointmentId: string; scheduleId: string; requestId: string },
): AuditEntry[] {
  if (principal.role === 'patient') return [];
  return [
    {
      actor: { role: principal.role, id: principal.sub, institutionId: principal.institutionId },
      action: 'appointment.book',
      outcome: 'allowed',
      subject: { type: 'appointment', id: r.appointmentId },
      detail: { scheduleId: r.scheduleId, requestId: r.requestId, queued: true },
    },
  ];
}
