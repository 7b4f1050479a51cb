/**
 * The schedule's events, written once: a zod schema per event type, and the domain's event types
 * derived from them. The decider (schedule.ts) produces these types and the projections validate
 * what they read off the wire with these schemas (projections/schedule-events.ts), so the two
 * cannot drift: change a field here and both sides change, or `tsc` fails.
 *
 * Events are past tense and `{ type, data }`, so they go to any event store unchanged. The
 * schemas are plain objects (unknown fields are dropped, not refused): a reader stays tolerant of
 * a newer producer that added a field.
 */
import { z } from 'zod';
import { periods } from './session-time.ts';

export const actorRoles = ['patient', 'hospital', 'admin'] as const;
export type ActorRole = (typeof actorRoles)[number];

const actor = z.object({ id: z.string(), role: z.enum(actorRoles) });
/** Who issued a command; `id` is the authenticated subject. */
export type Actor = z.infer<typeof actor>;

const id = z.string().min(1);
/** An instant, ISO-8601 in UTC. */
const instant = z.string().min(1);
const count = z.number().int().nonnegative();
/**
 * The opaque reference events carry instead of a patient's id (a random uuid, patient_keys in
 * PostgreSQL; docs/adr/0010). It names the patient's data key; it is not identity.
 */
const patientRef = z.string().min(1);
/** A patient's identity sealed with their data key: `v1.<iv>.<ciphertext>.<tag>` (base64url). */
const sealed = z.string().regex(/^v1\.[\w-]+\.[\w-]*\.[\w-]+$/);

export const scheduleEventSchemas = {
  ScheduleOpened: z.object({
    scheduleId: id,
    doctorId: id,
    institutionId: id,
    departmentId: id,
    /** YYYY-MM-DD in the hospital's time zone. */
    date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
    period: z.enum(periods),
    sessionStartsAt: instant,
    capacity: count,
    /** Consultation fee in minor currency units (fen). */
    fee: count,
    openedBy: actor,
    openedAt: instant,
  }),
  /** v2: the patient as a reference and a sealed `{ patientId }` (v1 carried `patientId` in clear). */
  AppointmentBooked: z.object({
    scheduleId: id,
    appointmentId: id,
    patientRef,
    patient: sealed,
    bookedAt: instant,
  }),
  /** v2: `patientRef` instead of `patientId`; a patient who cancels is `{ id: <patientRef>, role }`. */
  AppointmentCancelled: z.object({
    scheduleId: id,
    appointmentId: id,
    patientRef,
    reason: z.string().nullable(),
    cancelledBy: actor,
    cancelledAt: instant,
  }),
  CapacityChanged: z.object({
    scheduleId: id,
    previousCapacity: count,
    capacity: count,
    changedBy: actor,
    changedAt: instant,
  }),
  ScheduleClosed: z.object({
    scheduleId: id,
    reason: z.string(),
    cancelledAppointmentIds: z.array(z.string()),
    closedBy: actor,
    closedAt: instant,
  }),
} as const;

type Schemas = typeof scheduleEventSchemas;
export type ScheduleEventType = keyof Schemas;

/** The event of one type: `{ type, data }` with `data` as its schema reads it. */
export interface EventOf<T extends ScheduleEventType> {
  type: T;
  data: z.infer<Schemas[T]>;
}

export type ScheduleOpened = EventOf<'ScheduleOpened'>;
export type AppointmentBooked = EventOf<'AppointmentBooked'>;
export type AppointmentCancelled = EventOf<'AppointmentCancelled'>;
export type CapacityChanged = EventOf<'CapacityChanged'>;
export type ScheduleClosed = EventOf<'ScheduleClosed'>;

export type ScheduleEvent = { [T in ScheduleEventType]: EventOf<T> }[ScheduleEventType];

export const scheduleEventTypes = Object.keys(scheduleEventSchemas) as readonly ScheduleEventType[];

export const isScheduleEventType = (type: string): type is ScheduleEventType =>
  Object.hasOwn(scheduleEventSchemas, type);
