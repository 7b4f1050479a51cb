import { describe, expect, it } from 'vitest';
import { decide, fold, type ScheduleCommand, type ScheduleEvent } from '../../domain/schedule.ts';
import { coalesceOps, evolveSchedule, scheduleEffects } from '../../projections/redis/read-model.ts';
import { keyspace, parseScheduleHash, type ScheduleView } from '../../read-models/bookings.ts';
import { parseScheduleEvent } from '../../projections/schedule-events.ts';
import { hospitalDate } from '../../read-models/hospital-date.ts';
import { MemoryRedis } from '../support/memory-redis-ops.ts';
import {
  aBooking,
  aCancellation,
  aCapacityChange,
  aClosure,
  anOpenSchedule,
  BEFORE_SESSION,
} from '../support/schedule-mother.ts';

/** Runs commands through the real decider and returns the events, as the command API would. */
function history(...commands: ScheduleCommand[]): ScheduleEvent[] {
  const events: ScheduleEvent[] = [];
  for (const command of commands) {
    const decision = decide(command, fold(events));
    if (!decision.ok) throw new Error(`rejected: ${decision.error.code}`);
    events.push(...decision.events);
  }
  return events;
}

const keys = keyspace('rm', 1);

function project(events: ScheduleEvent[], redis = new MemoryRedis(), { redeliver = false } = {}) {
  let view: ScheduleView | null = null;
  events.forEach((event, rev) => {
    const guard = keys.schedule(
      (events[0] as Extract<ScheduleEvent, { type: 'ScheduleOpened' }>).data.scheduleId,
    );
    const stored = parseScheduleHash(redis.hash(guard));
    view = stored;
    const effect = scheduleEffects(view, event, rev, keys);
    redis.apply(guard, stored?.rev ?? -1, rev, effect.ops);
    if (redeliver) redis.apply(guard, stored?.rev ?? -1, rev, effect.ops); // the same event again
  });
  return redis;
}

describe('schedule availability: evolve', () => {
  const open = anOpenSchedule({ capacity: 2 });
  const a1 = aBooking(open.scheduleId, { patientId: 'p1' });
  const a2 = aBooking(open.scheduleId, { patientId: 'p2' });

  it('counts bookings and cancellations against capacity', () => {
    const events = history(open, a1, a2, aCancellation(a1.appointmentId), aCapacityChange(5));
    const view = events.reduce<ScheduleView | null>((v, e, rev) => evolveSchedule(v, e, rev), null);
    expect(view).toMatchObject({ capacity: 5, booked: 1, status: 'open', rev: 4, doctorId: open.doctorId });
  });

  it('closing cancels every appointment first, then closes', () => {
    const events = history(open, a1, a2, aClosure());
    const view = events.reduce<ScheduleView | null>((v, e, rev) => evolveSchedule(v, e, rev), null);
    expect(view).toMatchObject({ booked: 0, status: 'closed', rev: events.length - 1 });
  });

  it('refuses an event before the schedule was opened', () => {
    const [, booked] = history(open, a1);
    expect(() => evolveSchedule(null, booked!, 1)).toThrow(/before the schedule was opened/);
  });
});

describe('Redis read models: effects', () => {
  const open = anOpenSchedule({
    capacity: 3,
    institutionId: 'inst-1',
    departmentId: 'dept-1',
    doctorId: 'doc-1',
  });
  const a1 = aBooking(open.scheduleId, { patientId: 'p1' });
  const a2 = aBooking(open.scheduleId, { patientId: 'p2' });
  const day = hospitalDate(BEFORE_SESSION.toISOString());

  it('writes availability, the doctor list, the patient list and the day counters', () => {
    const redis = project(history(open, a1, a2, aCancellation(a2.appointmentId)));
    expect(redis.hash(keys.schedule(open.scheduleId))).toMatchObject({
      capacity: '3',
      booked: '1',
      remaining: '2',
      status: 'open',
      rev: '3',
    });
    expect(redis.zrange(keys.doctorSchedules('doc-1'))).toEqual([open.scheduleId]);
    expect(redis.zscore(keys.doctorSchedules('doc-1'), open.scheduleId)).toBe(
      Date.parse('2030-01-15T00:00:00Z'),
    );
    expect(redis.zrange(keys.patientAppointments('p1'))).toEqual([a1.appointmentId]);
    expect(redis.hash(keys.appointment(a2.appointmentId))).toMatchObject({
      status: 'cancelled',
      patientId: 'p2',
      institutionId: 'inst-1',
      date: '2030-01-15',
      period: 'morning',
    });
    // Bookings made that day: cancellations do not take them back.
    expect(redis.hash(keys.bookingsByInstitution(day))).toEqual({ 'inst-1': '2' });
    expect(redis.hash(keys.bookingsByDepartment(day))).toEqual({ 'dept-1': '2' });
    expect(redis.zscore(keys.hotDepartments(day), 'dept-1')).toBe(2);
  });

  it('a redelivered event changes nothing: the revision guard covers the counters too', () => {
    const events = history(open, a1, a2);
    const once = project(events);
    const twice = project(events, new MemoryRedis(), { redeliver: true });
    expect(twice.hashes).toEqual(once.hashes);
    expect(twice.zsets).toEqual(once.zsets);
  });

  it('closing a schedule removes it from the doctor list and leaves nothing bookable', () => {
    const redis = project(history(open, a1, aClosure()));
    expect(redis.zrange(keys.doctorSchedules('doc-1'))).toEqual([]);
    expect(redis.hash(keys.schedule(open.scheduleId))).toMatchObject({
      status: 'closed',
      booked: '0',
      remaining: '0',
    });
    expect(redis.hash(keys.appointment(a1.appointmentId))).toMatchObject({ status: 'cancelled' });
  });

  it('books on the hospital day: 23:30 UTC is the next day in Shanghai', () => {
    expect(hospitalDate('2030-01-10T23:30:00.000Z')).toBe('2030-01-11');
    expect(hospitalDate('2030-01-10T15:59:59.000Z')).toBe('2030-01-10');
  });
});

describe('parseScheduleEvent', () => {
  it('ignores other streams and unknown types, rejects malformed data of a known type', () => {
    expect(parseScheduleEvent({ streamId: 'catalog-1', type: 'X', data: {} }).kind).toBe('ignored');
    expect(parseScheduleEvent({ streamId: 'schedule-1', type: 'FutureEvent', data: {} }).kind).toBe(
      'ignored',
    );
    const bad = parseScheduleEvent({
      streamId: 'schedule-1',
      type: 'AppointmentBooked',
      data: { scheduleId: 1 },
    });
    expect(bad.kind).toBe('poison');
  });
});

describe('coalesceOps', () => {
  it('gives the same state with fewer commands', () => {
    const open = anOpenSchedule({ capacity: 50 });
    const commands = [open, ...Array.from({ length: 20 }, () => aBooking(open.scheduleId))];
    const events = history(
      ...commands,
      aCancellation((commands[3] as ReturnType<typeof aBooking>).appointmentId),
      aClosure(),
    );
    const keys1 = keyspace('rm', 1);
    let view: ScheduleView | null = null;
    const ops = events.flatMap((event, rev) => {
      const effect = scheduleEffects(view, event, rev, keys1);
      view = effect.view;
      return effect.ops;
    });
    const plain = new MemoryRedis();
    for (const op of ops) plain.run(op);
    const merged = new MemoryRedis();
    const fewer = coalesceOps(ops);
    for (const op of fewer) merged.run(op);
    expect(merged.hashes).toEqual(plain.hashes);
    expect(merged.zsets).toEqual(plain.zsets);
    expect(fewer.length).toBeLessThan(ops.length * 0.6);
  });
});
