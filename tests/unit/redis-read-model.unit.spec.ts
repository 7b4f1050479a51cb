// The Redis writes themselves (revision guard script, effects, coalescing) are tested against the
// real Redis in tests/int/redis-read-model.int.spec.ts.
import { describe, expect, it } from 'vitest';
import { evolveSchedule } from '../../projections/redis/read-model.ts';
import type { ScheduleView } from '../../read-models/bookings.ts';
import { parseScheduleEvent } from '../../projections/schedule-events.ts';
import { hospitalDate } from '../../read-models/hospital-date.ts';
import {
  aBooking,
  aCancellation,
  aCapacityChange,
  aClosure,
  anOpenSchedule,
  historyOf,
} from '../support/schedule-mother.ts';

describe('schedule availability: evolve', () => {
  const open = anOpenSchedule({ capacity: 2 });
  const a1 = aBooking(open.scheduleId, { patientRef: 'p1' });
  const a2 = aBooking(open.scheduleId, { patientRef: 'p2' });

  it('counts bookings and cancellations against capacity', () => {
    const events = historyOf(open, a1, a2, aCancellation(a1.appointmentId), aCapacityChange(5));
    const view = events.reduce<ScheduleView | null>((v, e, rev) => evolveSchedule(v, e, rev), null);
    expect(view).toMatchObject({ capacity: 5, booked: 1, status: 'open', rev: 4, doctorId: open.doctorId });
  });

  it('closing cancels every appointment first, then closes', () => {
    const events = historyOf(open, a1, a2, aClosure());
    const view = events.reduce<ScheduleView | null>((v, e, rev) => evolveSchedule(v, e, rev), null);
    expect(view).toMatchObject({ booked: 0, status: 'closed', rev: events.length - 1 });
  });

  it('refuses an event before the schedule was opened', () => {
    const [, booked] = historyOf(open, a1);
    expect(() => evolveSchedule(null, booked!, 1)).toThrow(/before the schedule was opened/);
  });
});

describe('hospitalDate', () => {
  it('books on the hospital day: 23:30 UTC is the next day in Shanghai', () => {
    expect(hospitalDate('2030-01-10T23:30:00.000Z')).toBe('2030-01-11');
    expect(hospitalDate('2030-01-10T15:59:59.000Z')).toBe('2030-01-10');
  });
});

describe('parseScheduleEvent', () => {
  it('ignores other streams and unknown types, rejects malformed data of a known type', () => {
    expect(parseScheduleEvent({ streamId: 'catalog-1', type: 'X', data: {}, metadata: {} }).kind).toBe(
      'ignored',
    );
    expect(
      parseScheduleEvent({ streamId: 'schedule-1', type: 'FutureEvent', data: {}, metadata: {} }).kind,
    ).toBe('ignored');
    const bad = parseScheduleEvent({
      streamId: 'schedule-1',
      type: 'AppointmentBooked',
      data: { scheduleId: 1 },
      metadata: {},
    });
    expect(bad.kind).toBe('poison');
  });
});
