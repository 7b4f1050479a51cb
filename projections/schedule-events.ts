/**
 * Reading schedule events off the wire. Producers and consumers deploy separately, so the
 * reader is tolerant where it can be and strict where it must be:
 *  - an event of another stream family, or of a type this build does not know, is `ignored`
 *    (it still advances the stream revision: a newer event type must not look like a gap);
 *  - a known type whose data does not match its schema is `poison` (dead-lettered);
 *  - a known type of an older schema version is upcast to the latest first, and one of a version
 *    this build does not know (a newer producer) is `poison`: never guessed at (docs/adr/0009).
 * The schemas are the domain's own (domain/schedule-events.ts): one definition of each event.
 */
import type { z } from 'zod';
import { upcastScheduleEvent } from '../domain/event-versions.ts';
import { isScheduleEventType, type ScheduleEvent, scheduleEventSchemas } from '../domain/schedule.ts';
import type { EventEnvelope } from './relay/event-message.ts';

export const SCHEDULE_STREAM_PREFIX = 'schedule-';

/** Why an event is poison when its data fails its schema: each failing path and message. */
export const schemaMismatch = (type: string, error: z.ZodError): string =>
  `${type} data does not match its schema: ${error.issues
    .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
    .join('; ')}`;

export type ParsedScheduleEvent =
  | { kind: 'schedule'; event: ScheduleEvent }
  | { kind: 'ignored'; why: string }
  | { kind: 'poison'; reason: string };

/** `metadata.schemaVersion` is the event's version; an event without one is version 1. */
export function parseScheduleEvent(
  envelope: Pick<EventEnvelope, 'streamId' | 'type' | 'data' | 'metadata'>,
): ParsedScheduleEvent {
  if (!envelope.streamId.startsWith(SCHEDULE_STREAM_PREFIX)) {
    return { kind: 'ignored', why: `not a schedule stream: ${envelope.streamId}` };
  }
  if (!isScheduleEventType(envelope.type))
    return { kind: 'ignored', why: `unknown event type ${envelope.type}` };
  const upcast = upcastScheduleEvent(envelope);
  if (!upcast.ok) return { kind: 'poison', reason: upcast.reason };
  if (envelope.type === 'AppointmentBooked') {
    const booked = plainBooking(upcast.data);
    if (booked) return { kind: 'schedule', event: { type: 'AppointmentBooked', data: booked } };
  }
  const parsed = scheduleEventSchemas[envelope.type].safeParse(upcast.data);
  if (!parsed.success) return { kind: 'poison', reason: schemaMismatch(envelope.type, parsed.error) };
  // The domain's event types are derived from these very schemas (domain/schedule-events.ts); the
  // cast only pairs `type` with its `data`, which TypeScript cannot correlate through the index.
  return { kind: 'schedule', event: { type: envelope.type, data: parsed.data } as ScheduleEvent };
}

type BookedData = z.infer<(typeof scheduleEventSchemas)['AppointmentBooked']>;
/** The `patient` check of the AppointmentBooked schema (domain/schedule-events.ts: `sealed`). */
const SEALED = /^v1\.[\w-]+\.[\w-]*\.[\w-]+$/;
const filled = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

/**
 * AppointmentBooked data checked by hand: every booking is one, and its schema's safeParse was
 * the projectors' largest cost after JSON.parse. Returns what the schema returns for well-formed
 * data (its five fields, unknown ones dropped), undefined for anything else, which then goes
 * through the schema and is refused with its reason as before.
 */
function plainBooking(data: unknown): BookedData | undefined {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return undefined;
  const d = data as Record<string, unknown>;
  const { scheduleId, appointmentId, patientRef, patient, bookedAt } = d;
  if (!filled(scheduleId) || !filled(appointmentId) || !filled(patientRef) || !filled(bookedAt))
    return undefined;
  if (typeof patient !== 'string' || !SEALED.test(patient)) return undefined;
  return { scheduleId, appointmentId, patientRef, patient, bookedAt };
}
