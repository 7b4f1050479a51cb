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

describe('AppointmentBooked read by hand', () => {
  const good = {
    scheduleId: 's-1',
    appointmentId: 'a-1',
    patientRef: 'ref-1',
    patient: 'v1.c3R1Yg.c3R1Yg.c3R1Yg',
    bookedAt: '2030-01-10T09:30:00Z',
  };
  const read = (data: unknown) =>
    parseScheduleEvent({
      streamId: 'schedule-s-1',
      type: 'AppointmentBooked',
      data,
      metadata: stampSchemaVersion('AppointmentBooked', {}),
    });
  /** What the schema alone makes of `data`, as parseScheduleEvent reports it. */
  const bySchema = (data: unknown) => {
    const parsed = scheduleEventSchemas.AppointmentBooked.safeParse(data);
    return parsed.success
      ? { kind: 'schedule', event: { type: 'AppointmentBooked', data: parsed.data } }
      : 'poison';
  };
  const cases: [string, unknown][] = [
    ['well formed', good],
    ['an unknown field (dropped)', { ...good, extra: 1, nested: { a: 1 } }],
    ['an empty ciphertext', { ...good, patient: 'v1.aa..bb' }],
    ['an empty id', { ...good, appointmentId: '' }],
    ['a missing field', { ...good, bookedAt: undefined }],
    ['a number for a string', { ...good, patientRef: 7 }],
    ['a malformed sealed patient', { ...good, patient: 'v2.a.b.c' }],
    ['a sealed patient with a newline', { ...good, patient: 'v1.a.b.c\n' }],
    ['null', null],
    ['an array', [good]],
    ['a string', 'booked'],
  ];

  it.each(cases)('%s: the same event, or poison, as the schema says', (_name, data) => {
    const out = read(data);
    const expected = bySchema(data);
    if (expected === 'poison') expect(out.kind).toBe('poison');
    else {
      expect(out).toEqual(expected);
      // Exactly the schema's fields, in its order: nothing of the wire object leaks through.
      if (out.kind === 'schedule')
        expect(Object.keys(out.event.data)).toEqual(Object.keys(expected.event.data));
    }
  });

  it('keeps the schema reason for data it refuses', () => {
    const out = read({ ...good, patient: 'clear-text-id' });
    expect(out).toMatchObject({ kind: 'poison' });
    if (out.kind === 'poison')
      expect(out.reason).toMatch(/^AppointmentBooked data does not match its schema: patient/);
  });
});
