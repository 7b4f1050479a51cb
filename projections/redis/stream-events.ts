/**
 * Reading a schedule stream's events off the wire for the Redis projector: the capacity events
 * through `parseScheduleEvent` (upcasting, schema checks), and the slot events of a numbered
 * schedule (domain/slot-events.ts, docs/adr/0012) by the same rules: a malformed one, or one of a
 * version this build does not know (a newer producer), is poison, never guessed at (ADR 0009).
 */
import { recordedSchemaVersion } from '../../domain/event-versions.ts';
import { isSlotEventType, latestSlotEventVersions, slotEventSchemas } from '../../domain/slot-events.ts';
import type { ScheduleStreamEvent } from '../../domain/slot-state.ts';
import type { EventEnvelope } from '../relay/event-message.ts';
import { parseScheduleEvent, SCHEDULE_STREAM_PREFIX, schemaMismatch } from '../schedule-events.ts';

export type ParsedStreamEvent =
  | { kind: 'schedule'; event: ScheduleStreamEvent }
  | { kind: 'ignored'; why: string }
  | { kind: 'poison'; reason: string };

export function parseStreamEvent(
  envelope: Pick<EventEnvelope, 'streamId' | 'type' | 'data' | 'metadata'>,
): ParsedStreamEvent {
  if (!envelope.streamId.startsWith(SCHEDULE_STREAM_PREFIX) || !isSlotEventType(envelope.type))
    return parseScheduleEvent(envelope);
  const version = recordedSchemaVersion(envelope.metadata);
  if (version !== latestSlotEventVersions[envelope.type])
    return { kind: 'poison', reason: `unknown schema version ${String(version)} of ${envelope.type}` };
  const parsed = slotEventSchemas[envelope.type].safeParse(envelope.data);
  if (!parsed.success) return { kind: 'poison', reason: schemaMismatch(envelope.type, parsed.error) };
  // The slot event types are derived from these very schemas; the cast pairs `type` with `data`.
  return { kind: 'schedule', event: { type: envelope.type, data: parsed.data } as ScheduleStreamEvent };
}
