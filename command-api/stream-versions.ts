/**
 * The schema version every stored schedule-stream event carries (docs/adr/0009): the capacity
 * events' from event-versions.ts, the slot events' (docs/adr/0012, all at v1) from slot-events.ts.
 */
import { SCHEMA_VERSION_KEY, stampSchemaVersion } from '../domain/event-versions.ts';
import { isSlotEventType, latestSlotEventVersions } from '../domain/slot-events.ts';
import type { ScheduleStreamEvent } from '../domain/slot-state.ts';

export const stampStreamVersion = <M extends object>(
  type: ScheduleStreamEvent['type'],
  metadata: M,
): M & { schemaVersion: number } =>
  isSlotEventType(type)
    ? { ...metadata, [SCHEMA_VERSION_KEY]: latestSlotEventVersions[type] }
    : stampSchemaVersion(type, metadata);
