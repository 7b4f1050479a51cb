/**
 * Which events of `booking.events` a hospital receives, and what of each (docs/adr/0016). Pure.
 *
 * The hospital gets what its own system needs to know an appointment: the schedule's session
 * (from the schedule's ScheduleOpened), the appointment, its slot and its end. It never gets the
 * platform's internal references (`patientRef`, actor ids): a booking's patient travels sealed
 * (`patientSealed`) into the outbox and is opened into `patientId` only at send time, so a
 * patient forgotten before then is delivered as `patientId: null` (docs/adr/0010). The slot
 * events name only the appointment: the hospital joins them to the patient its AppointmentBooked
 * carried, and an actor travels as its role (as `cancelledBy` does).
 */
import type { ScheduleStreamEvent } from '../domain/slot-state.ts';
import { parseStreamEvent } from '../projections/redis/stream-events.ts';
import type { EventEnvelope } from '../projections/relay/event-message.ts';
import { parseScheduleEvent } from '../projections/schedule-events.ts';

export const deliveredTypes = [
  'AppointmentBooked',
  'SlotTaken',
  'HoldExpired',
  'PaymentConfirmed',
  'PatientCheckedIn',
  'NoShowMarked',
  'AppointmentCancelled',
  'ScheduleClosed',
] as const;
export type DeliveredType = (typeof deliveredTypes)[number];

export const isDeliveredType = (type: string): type is DeliveredType =>
  (deliveredTypes as readonly string[]).includes(type);

/** The session of a schedule, as its ScheduleOpened says. */
export interface ScheduleSession {
  institutionId: string;
  doctorId: string;
  departmentId: string;
  date: string;
  period: string;
  sessionStartsAt: string;
}

/** What the outbox keeps of an event (the patient still sealed). */
export interface DeliveryDraft {
  scheduleId: string;
  type: DeliveredType;
  occurredAt: string;
  data: Record<string, unknown>;
  /** AppointmentBooked only: opened at send time into `data.patientId`. */
  patient?: { ref: string; sealed: string };
}

export type Selected =
  | { kind: 'deliver'; scheduleId: string; build: (session: ScheduleSession) => DeliveryDraft }
  /** An event hospitals do not get: the normal case for most of `booking.events`. */
  | { kind: 'skip'; why: string }
  /**
   * A delivered type this build cannot read (a newer schema version, data that breaks its schema):
   * dead-lettered with the reason, never dropped silently — a hospital would miss it (ADR 0009).
   */
  | { kind: 'reject'; reason: string };

const sessionFields = (s: ScheduleSession) => ({
  doctorId: s.doctorId,
  departmentId: s.departmentId,
  date: s.date,
  period: s.period,
  sessionStartsAt: s.sessionStartsAt,
});

function fromScheduleEvent(envelope: EventEnvelope): Selected {
  const parsed = parseScheduleEvent(envelope);
  if (parsed.kind === 'ignored') return { kind: 'skip', why: parsed.why };
  if (parsed.kind === 'poison') return { kind: 'reject', reason: parsed.reason };
  const e = parsed.event;
  const base = { scheduleId: e.data.scheduleId };
  switch (e.type) {
    case 'AppointmentBooked':
      return {
        kind: 'deliver',
        ...base,
        build: (s) => ({
          ...base,
          type: e.type,
          occurredAt: e.data.bookedAt,
          data: {
            ...base,
            appointmentId: e.data.appointmentId,
            ...sessionFields(s),
            bookedAt: e.data.bookedAt,
          },
          patient: { ref: e.data.patientRef, sealed: e.data.patient },
        }),
      };
    case 'AppointmentCancelled':
      return {
        kind: 'deliver',
        ...base,
        build: () => ({
          ...base,
          type: e.type,
          occurredAt: e.data.cancelledAt,
          data: {
            ...base,
            appointmentId: e.data.appointmentId,
            reason: e.data.reason,
            cancelledBy: e.data.cancelledBy.role,
            cancelledAt: e.data.cancelledAt,
          },
        }),
      };
    case 'ScheduleClosed':
      return {
        kind: 'deliver',
        ...base,
        build: (s) => ({
          ...base,
          type: e.type,
          occurredAt: e.data.closedAt,
          data: {
            ...base,
            ...sessionFields(s),
            reason: e.data.reason,
            cancelledAppointmentIds: e.data.cancelledAppointmentIds,
            closedAt: e.data.closedAt,
          },
        }),
      };
    default:
      return { kind: 'skip', why: `${e.type} is not delivered` };
  }
}

/** The delivered events a schedule's slots, holds and attendance add (domain/slot-events.ts). */
const slotDelivered = [
  'SlotTaken',
  'HoldExpired',
  'PaymentConfirmed',
  'PatientCheckedIn',
  'NoShowMarked',
] as const satisfies readonly DeliveredType[];
type SlotDeliveredType = (typeof slotDelivered)[number];
const isSlotDelivered = (t: DeliveredType): t is SlotDeliveredType =>
  (slotDelivered as readonly string[]).includes(t);

/** What the hospital gets of a slot event: its instant and body, never the `patientRef`. */
function slotBody(e: ScheduleStreamEvent): { occurredAt: string; data: Record<string, unknown> } | undefined {
  const ids = { scheduleId: e.data.scheduleId };
  switch (e.type) {
    case 'SlotTaken': {
      const d = e.data;
      return {
        occurredAt: d.takenAt,
        data: {
          ...ids,
          appointmentId: d.appointmentId,
          slot: d.slot,
          slotStartsAt: d.slotStartsAt,
          channel: d.channel,
          holdExpiresAt: d.holdExpiresAt,
          takenAt: d.takenAt,
        },
      };
    }
    case 'HoldExpired': {
      const d = e.data;
      return {
        occurredAt: d.expiredAt,
        data: { ...ids, appointmentId: d.appointmentId, slot: d.slot, expiredAt: d.expiredAt },
      };
    }
    case 'PaymentConfirmed': {
      const d = e.data;
      return {
        occurredAt: d.confirmedAt,
        data: {
          ...ids,
          appointmentId: d.appointmentId,
          slot: d.slot,
          paymentRef: d.paymentRef,
          amount: d.amount,
          confirmedAt: d.confirmedAt,
        },
      };
    }
    case 'PatientCheckedIn': {
      const d = e.data;
      return {
        occurredAt: d.checkedInAt,
        data: {
          ...ids,
          appointmentId: d.appointmentId,
          slot: d.slot,
          checkedInBy: d.checkedInBy.role,
          checkedInAt: d.checkedInAt,
        },
      };
    }
    case 'NoShowMarked': {
      const d = e.data;
      return {
        occurredAt: d.markedAt,
        data: {
          ...ids,
          appointmentId: d.appointmentId,
          slot: d.slot,
          markedBy: d.markedBy.role,
          markedAt: d.markedAt,
        },
      };
    }
    default:
      return undefined;
  }
}

/** Read by the Redis projector's rules: an unknown version or a schema mismatch is rejected. */
function fromSlotEvent(type: SlotDeliveredType, envelope: EventEnvelope): Selected {
  const parsed = parseStreamEvent(envelope);
  if (parsed.kind === 'ignored') return { kind: 'skip', why: parsed.why };
  if (parsed.kind === 'poison') return { kind: 'reject', reason: parsed.reason };
  const body = slotBody(parsed.event);
  if (!body) return { kind: 'skip', why: `${type} is not delivered` };
  const { scheduleId } = parsed.event.data;
  return {
    kind: 'deliver',
    scheduleId,
    build: () => ({ scheduleId, type, ...body }),
  };
}

/**
 * Whether the event is delivered (and how to build its delivery once its session is known), skipped
 * (not for hospitals), or rejected (a delivered type that does not parse: to the dead-letter topic).
 */
export function selectForDelivery(envelope: EventEnvelope): Selected {
  if (!isDeliveredType(envelope.type)) return { kind: 'skip', why: `${envelope.type} is not delivered` };
  if (isSlotDelivered(envelope.type)) return fromSlotEvent(envelope.type, envelope);
  return fromScheduleEvent(envelope);
}
