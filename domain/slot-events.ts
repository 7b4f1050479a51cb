/**
 * The events numbered slots, holds, the waitlist and attendance add to a schedule's stream
 * (issue 15; docs/adr/0012). Written once, as zod schemas, like schedule-events.ts.
 *
 * They are kept apart from `scheduleEventSchemas` on purpose: the command API and the projectors
 * still switch exhaustively over `ScheduleEvent` (the five events of a capacity-only schedule),
 * and a schedule that never releases slots writes exactly what it wrote before. The schedule
 * stream's full vocabulary is `ScheduleStreamEvent` = `ScheduleEvent | SlotEvent`
 * (schedule-stream.ts). Every type here is at version 1.
 */
import { z } from 'zod';
import { actorRoles } from './schedule-events.ts';

const actor = z.object({ id: z.string(), role: z.enum(actorRoles) });
const id = z.string().min(1);
/** An instant, ISO-8601 in UTC. */
const instant = z.string().min(1);
const slotNumber = z.number().int().positive();
const amount = z.number().int().nonnegative();
/** A booking channel (`online`, `onsite`, `follow-up`, …): who may take a reserved slot. */
const channel = z.string().min(1);
const sealed = z.string().regex(/^v1\.[\w-]+\.[\w-]*\.[\w-]+$/);

/** Slots `from`..`to` (inclusive) are for `channel` only until `releasesAt`, then for everyone. */
const reservation = z.object({ channel, from: slotNumber, to: slotNumber, releasesAt: instant });

export const slotEventSchemas = {
  /** Emitted with ScheduleOpened: slot n starts at firstSlotAt + (n - 1) × intervalMinutes. */
  SlotsReleased: z.object({
    scheduleId: id,
    firstSlotAt: instant,
    intervalMinutes: z.number().int().positive(),
    count: slotNumber,
    reservations: z.array(reservation),
  }),
  /**
   * Follows the AppointmentBooked of the same appointment: the appointment occupies `slot`.
   * `holdExpiresAt` null: confirmed at once (fee 0); otherwise held until then, unpaid.
   */
  SlotTaken: z.object({
    scheduleId: id,
    appointmentId: id,
    patientRef: id,
    slot: slotNumber,
    slotStartsAt: instant,
    channel,
    source: z.enum(['booking', 'waitlist']),
    amount,
    holdExpiresAt: instant.nullable(),
    takenAt: instant,
  }),
  PaymentConfirmed: z.object({
    scheduleId: id,
    appointmentId: id,
    patientRef: id,
    slot: slotNumber,
    paymentRef: id,
    amount,
    confirmedAt: instant,
  }),
  /** The hold's deadline passed unpaid: the slot is free again. */
  HoldExpired: z.object({
    scheduleId: id,
    appointmentId: id,
    patientRef: id,
    slot: slotNumber,
    deadline: instant,
    expiredAt: instant,
  }),
  /** Follows the AppointmentCancelled of a paid, confirmed appointment: the payment side refunds. */
  RefundNeeded: z.object({
    scheduleId: id,
    appointmentId: id,
    patientRef: id,
    paymentRef: id,
    amount,
    recordedAt: instant,
  }),
  /** `entryId` becomes the appointment's id if a slot is offered to this patient. */
  WaitlistJoined: z.object({
    scheduleId: id,
    entryId: id,
    patientRef: id,
    patient: sealed,
    channel,
    joinedAt: instant,
  }),
  WaitlistLeft: z.object({
    scheduleId: id,
    entryId: id,
    patientRef: id,
    leftBy: actor,
    leftAt: instant,
  }),
  PatientCheckedIn: z.object({
    scheduleId: id,
    appointmentId: id,
    patientRef: id,
    slot: slotNumber,
    checkedInBy: actor,
    checkedInAt: instant,
  }),
  NoShowMarked: z.object({
    scheduleId: id,
    appointmentId: id,
    patientRef: id,
    slot: slotNumber,
    markedBy: actor,
    markedAt: instant,
  }),
} as const;

type Schemas = typeof slotEventSchemas;
export type SlotEventType = keyof Schemas;

export interface SlotEventOf<T extends SlotEventType> {
  type: T;
  data: z.infer<Schemas[T]>;
}

export type SlotsReleased = SlotEventOf<'SlotsReleased'>;
export type SlotTaken = SlotEventOf<'SlotTaken'>;
export type PaymentConfirmed = SlotEventOf<'PaymentConfirmed'>;
export type HoldExpired = SlotEventOf<'HoldExpired'>;
export type RefundNeeded = SlotEventOf<'RefundNeeded'>;
export type WaitlistJoined = SlotEventOf<'WaitlistJoined'>;
export type WaitlistLeft = SlotEventOf<'WaitlistLeft'>;
export type PatientCheckedIn = SlotEventOf<'PatientCheckedIn'>;
export type NoShowMarked = SlotEventOf<'NoShowMarked'>;

export type SlotEvent = { [T in SlotEventType]: SlotEventOf<T> }[SlotEventType];

export const slotEventTypes = Object.keys(slotEventSchemas) as readonly SlotEventType[];

export const isSlotEventType = (type: string): type is SlotEventType => Object.hasOwn(slotEventSchemas, type);

/** The version this build writes of each slot event type (ADR 0009: additive changes keep it). */
export const latestSlotEventVersions: Readonly<Record<SlotEventType, number>> = {
  SlotsReleased: 1,
  SlotTaken: 1,
  PaymentConfirmed: 1,
  HoldExpired: 1,
  RefundNeeded: 1,
  WaitlistJoined: 1,
  WaitlistLeft: 1,
  PatientCheckedIn: 1,
  NoShowMarked: 1,
};
