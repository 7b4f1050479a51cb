/**
 * Reading schedule events off the wire. Producers and consumers deploy separately, so the
 * reader is tolerant where it can be and strict where it must be:
 *  - an event of another stream family, or of a type this build does not know, is `ignored`
 *    (it still advances the stream revision: a newer event type must not look like a gap);
 *  - a known type whose data does not match its schema is `poison` (dead-lettered).
 */
import { z } from 'zod';
import type { ScheduleEvent } from '../domain/schedule.ts';
import { periods } from '../domain/session-time.ts';
import type { EventEnvelope } from './relay/event-message.ts';

export const SCHEDULE_STREAM_PREFIX = 'schedule-';

const actor = z.object({ id: z.string(), role: z.string() });
const iso = z.string().min(1);

const schemas = {
  ScheduleOpened: z.object({
    scheduleId: z.string().min(1),
    doctorId: z.string().min(1),
    institutionId: z.string().min(1),
    departmentId: z.string().min(1),
    date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
    period: z.enum(periods),
    sessionStartsAt: iso,
    capacity: z.number().int().nonnegative(),
    fee: z.number().int().nonnegative(),
    openedBy: actor,
    openedAt: iso,
  }),
  AppointmentBooked: z.object({
    scheduleId: z.string().min(1),
    appointmentId: z.string().min(1),
    patientId: z.string().min(1),
    bookedAt: iso,
  }),
  AppointmentCancelled: z.object({
    scheduleId: z.string().min(1),
    appointmentId: z.string().min(1),
    patientId: z.string().min(1),
    reason: z.string().nullable(),
    cancelledBy: actor,
    cancelledAt: iso,
  }),
  CapacityChanged: z.object({
    scheduleId: z.string().min(1),
    previousCapacity: z.number().int().nonnegative(),
    capacity: z.number().int().nonnegative(),
    changedBy: actor,
    changedAt: iso,
  }),
  ScheduleClosed: z.object({
    scheduleId: z.string().min(1),
    reason: z.string(),
    cancelledAppointmentIds: z.array(z.string()),
    closedBy: actor,
    closedAt: iso,
  }),
} as const;

export type ParsedScheduleEvent =
  | { kind: 'schedule'; event: ScheduleEvent }
  | { kind: 'ignored'; why: string }
  | { kind: 'poison'; reason: string };

const isKnownType = (type: string): type is keyof typeof schemas => Object.hasOwn(schemas, type);

export function parseScheduleEvent(
  envelope: Pick<EventEnvelope, 'streamId' | 'type' | 'data'>,
): ParsedScheduleEvent {
  if (!envelope.streamId.startsWith(SCHEDULE_STREAM_PREFIX)) {
    return { kind: 'ignored', why: `not a schedule stream: ${envelope.streamId}` };
  }
  if (!isKnownType(envelope.type)) return { kind: 'ignored', why: `unknown event type ${envelope.type}` };
  const parsed = schemas[envelope.type].safeParse(envelope.data);
  if (!parsed.success) {
    return {
      kind: 'poison',
      reason: `${envelope.type} data does not match its schema: ${parsed.error.issues
        .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
        .join('; ')}`,
    };
  }
  // The schemas mirror domain/schedule.ts field for field.
  return { kind: 'schedule', event: { type: envelope.type, data: parsed.data } as ScheduleEvent };
}
