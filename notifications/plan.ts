/**
 * What an event means for the patient's notifications (docs/adr/0014): pure, no I/O, no clock.
 * The feeder applies a plan in the transaction that moves its checkpoint.
 *
 *   AppointmentBooked        → the appointment's contact (its sealed identity)
 *   WaitlistJoined           → the contact of the entry (an offer's appointment id is the entry id)
 *   SlotTaken, held          → hold_reminder at holdExpiresAt − holdReminderMinutes;
 *                              day_before at slotStartsAt − dayBeforeHours, waiting for the payment;
 *                              from the waitlist also waitlist_offer at once
 *   SlotTaken, fee 0         → confirmation at once; day_before armed
 *   PaymentConfirmed         → confirmation at once; day_before armed; hold_reminder dropped
 *   HoldExpired              → the hold's reminders dropped
 *   AppointmentCancelled     → the reminders dropped; by the hospital (or the platform) also
 *                              cancelled_by_hospital at once
 *   PatientForgotten         → the patient's contacts deleted, everything unsent dropped
 */
import type { NotificationKind } from '../platform/notify/provider.ts';

export interface PlannedEvent {
  id: string;
  type: string;
  data: Record<string, unknown>;
  createdAt: Date;
}

export interface NotificationSettings {
  holdReminderMinutes: number;
  dayBeforeHours: number;
}

export interface NewNotification {
  id: string;
  kind: NotificationKind;
  appointmentId: string;
  patientRef: string;
  dueAt: Date;
  /** waiting: a timed one armed later (PaymentConfirmed); pending: to send at dueAt. */
  status: 'waiting' | 'pending';
  payload: Record<string, unknown>;
}

export interface NotificationPlan {
  contacts: { appointmentId: string; patientRef: string; patientSealed: string }[];
  add: NewNotification[];
  /** Waiting notifications of these kinds for the appointment become pending. */
  arm: { appointmentId: string; kinds: NotificationKind[] }[];
  /** Unsent notifications of these kinds for the appointment are skipped. */
  drop: { appointmentId: string; kinds: NotificationKind[]; reason: string }[];
  /** A forgotten patient: contacts deleted, every unsent notification skipped. */
  forget: string[];
}

const empty = (): NotificationPlan => ({ contacts: [], add: [], arm: [], drop: [], forget: [] });
const str = (v: unknown): string => (typeof v === 'string' ? v : String(v));
const minutes = (n: number) => n * 60_000;
const REMINDERS: NotificationKind[] = ['hold_reminder', 'day_before'];

export function planNotifications(e: PlannedEvent, s: NotificationSettings): NotificationPlan {
  const plan = empty();
  const d = e.data;
  const appointmentId = str(d.appointmentId);
  const patientRef = str(d.patientRef);
  const note = (
    kind: NotificationKind,
    dueAt: Date,
    payload: Record<string, unknown>,
    status: NewNotification['status'] = 'pending',
  ): NewNotification => ({ id: `${kind}:${e.id}`, kind, appointmentId, patientRef, dueAt, status, payload });
  switch (e.type) {
    case 'AppointmentBooked':
      if (typeof d.patient === 'string' && typeof d.patientRef === 'string')
        plan.contacts.push({ appointmentId, patientRef, patientSealed: d.patient });
      break;
    case 'WaitlistJoined':
      plan.contacts.push({ appointmentId: str(d.entryId), patientRef, patientSealed: str(d.patient) });
      break;
    case 'SlotTaken': {
      const slot = { scheduleId: d.scheduleId, slot: d.slot, slotStartsAt: d.slotStartsAt, amount: d.amount };
      const startsAt = new Date(str(d.slotStartsAt));
      const dayBefore = new Date(startsAt.getTime() - s.dayBeforeHours * 3_600_000);
      if (d.holdExpiresAt === null) {
        plan.add.push(note('confirmation', e.createdAt, slot));
        plan.add.push(note('day_before', dayBefore, slot));
        break;
      }
      const expiresAt = new Date(str(d.holdExpiresAt));
      const held = { ...slot, holdExpiresAt: d.holdExpiresAt };
      if (d.source === 'waitlist') plan.add.push(note('waitlist_offer', e.createdAt, held));
      const reminderAt = new Date(expiresAt.getTime() - minutes(s.holdReminderMinutes));
      plan.add.push(note('hold_reminder', reminderAt < e.createdAt ? e.createdAt : reminderAt, held));
      plan.add.push(note('day_before', dayBefore, slot, 'waiting'));
      break;
    }
    case 'PaymentConfirmed':
      plan.add.push(
        note('confirmation', e.createdAt, { scheduleId: d.scheduleId, slot: d.slot, amount: d.amount }),
      );
      plan.arm.push({ appointmentId, kinds: ['day_before'] });
      plan.drop.push({ appointmentId, kinds: ['hold_reminder'], reason: 'paid' });
      break;
    case 'HoldExpired':
      plan.drop.push({ appointmentId, kinds: REMINDERS, reason: 'expired' });
      break;
    case 'AppointmentCancelled': {
      plan.drop.push({ appointmentId, kinds: REMINDERS, reason: 'cancelled' });
      const by = d.cancelledBy as { role?: string } | undefined;
      if (by?.role !== undefined && by.role !== 'patient')
        plan.add.push(
          note('cancelled_by_hospital', e.createdAt, { scheduleId: d.scheduleId, reason: d.reason ?? null }),
        );
      break;
    }
    case 'PatientForgotten':
      plan.forget.push(patientRef);
      break;
    default:
      break;
  }
  return plan;
}

/** The text the patient reads (the local provider records it; an SMS template would replace it). */
export function messageBody(kind: NotificationKind, payload: Record<string, unknown>): string {
  const slot = payload.slot === undefined ? '' : ` No. ${str(payload.slot)}`;
  const at = payload.slotStartsAt === undefined ? '' : ` at ${str(payload.slotStartsAt)}`;
  switch (kind) {
    case 'hold_reminder':
      return `Your slot${slot}${at} is held until ${str(payload.holdExpiresAt)}: pay before then to keep it.`;
    case 'waitlist_offer':
      return `A slot${slot}${at} is free for you from the waitlist; pay before ${str(payload.holdExpiresAt)} to take it.`;
    case 'confirmation':
      return `Your appointment${slot}${at} is confirmed.`;
    case 'cancelled_by_hospital':
      return `The hospital cancelled your appointment${slot}${at}.`;
    case 'day_before':
      return `Reminder: your appointment${slot} is tomorrow${at}.`;
  }
}
