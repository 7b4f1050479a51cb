import { stampSchemaVersion } from '../../domain/event-versions.ts';
import { describe, expect, it } from 'vitest';
import { scheduleEventSchemas, scheduleEventTypes } from '../../domain/schedule.ts';
import { parseScheduleEvent } from '../../projections/schedule-events.ts';
import {
  aBooking,
  aCancellation,
  aCapacityChange,
  aClosure,
  anOpenSchedule,
  historyOf,
} from '../support/schedule-mother.ts';

describe('schedule events: one definition', () => {
  const open = anOpenSchedule({ capacity: 3 });
  const booking = aBooking(open.scheduleId);
  const events = historyOf(
    open,
    booking,
    aBooking(open.scheduleId),
    aCancellation(booking.appointmentId),
    aCapacityChange(5),
    aClosure(),
  );

  it('the decider emits every event type, each exactly as its schema reads it', () => {
    expect(new Set(events.map((e) => e.type))).toEqual(new Set(scheduleEventTypes));
    for (const event of events) {
      expect(scheduleEventSchemas[event.type].parse(event.data), event.type).toEqual(event.data);
    }
  });

  it('the projections read back what the decider wrote, through JSON', () => {
    for (const event of events) {
      const wire = {
        streamId: `schedule-${open.scheduleId}`,
        type: event.type,
        data: JSON.parse(JSON.stringify(event.data)) as unknown,
        metadata: stampSchemaVersion(event.type, {}),
      };
      expect(parseScheduleEvent(wire)).toEqual({ kind: 'schedule', event });
    }
  });
});
