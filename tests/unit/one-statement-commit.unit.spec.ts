/**
 * Which commands the one-statement commit takes (command-api/one-statement-commit.ts, ADR 0023):
 * only those whose events need nothing written beyond the append, the index, the audit and the key.
 * Anything that claims or frees a session, sets or settles a deadline or touches a numbered
 * schedule keeps the general transaction.
 */
import { describe, expect, it } from 'vitest';
import { PgOneStatementCommit } from '../../command-api/one-statement-commit.ts';
import { decide, evolve, initialState, type ScheduleState } from '../../domain/schedule.ts';
import { addDays, hospitalDateAt } from '../../domain/session-time.ts';
import type { SlotBook } from '../../domain/slot-state.ts';

const unusedDb = {
  query: () => Promise.reject(new Error('covers() must not query')),
} as unknown as ConstructorParameters<typeof PgOneStatementCommit>[0];
const oneStatement = new PgOneStatementCommit(unusedDb);
const now = new Date();
const actor = { id: 'h', role: 'hospital' } as const;

function decided(command: Parameters<typeof decide>[0], state: ScheduleState) {
  const decision = decide(command, state);
  if (!decision.ok) throw new Error(decision.error.code);
  return { events: decision.events, state: decision.events.reduce(evolve, state) };
}

const opened = decided(
  {
    type: 'OpenSchedule',
    scheduleId: '5f0c4a4e-0d7e-4d4e-9d54-6a4f1c9b7b10',
    doctorId: '1',
    institutionId: '2',
    departmentId: '3',
    date: addDays(hospitalDateAt(now), 5),
    period: 'morning',
    capacity: 10,
    fee: 0,
    actor,
    now,
    bookingHorizonDays: 90,
  },
  initialState(),
);
const booked = decided(
  {
    type: 'BookAppointment',
    scheduleId: '5f0c4a4e-0d7e-4d4e-9d54-6a4f1c9b7b10',
    appointmentId: '8b1d7c1e-3f7a-4b8e-9a51-0f2c6d3e4a5b',
    patientRef: '0d9e8f7a-6b5c-4d3e-8f1a-2b3c4d5e6f70',
    patient: 'v1.c3R1Yg.c3R1Yg.c3R1Yg',
    now,
  },
  opened.state,
);

describe('PgOneStatementCommit.covers', () => {
  it('takes a booking and a capacity change on a capacity-only schedule', () => {
    expect(booked.events.map((e) => e.type)).toEqual(['AppointmentBooked']);
    expect(oneStatement.covers(booked.events, null)).toBe(true);
    const changed = decided({ type: 'ChangeCapacity', capacity: 20, actor, now }, booked.state);
    expect(oneStatement.covers(changed.events, null)).toBe(true);
  });

  it('leaves opening and closing (session claims) to the transaction', () => {
    expect(oneStatement.covers(opened.events, null)).toBe(false);
    const closed = decided({ type: 'CloseSchedule', reason: 'ill', actor, now }, booked.state);
    expect(oneStatement.covers(closed.events, null)).toBe(false);
  });

  it('leaves a cancellation (it may settle a hold deadline) to the transaction', () => {
    const cancelled = decided(
      { type: 'CancelAppointment', appointmentId: '8b1d7c1e-3f7a-4b8e-9a51-0f2c6d3e4a5b', actor, now },
      booked.state,
    );
    expect(oneStatement.covers(cancelled.events, null)).toBe(false);
  });

  it('leaves every command on a numbered schedule (per-patient rules, holds) to the transaction', () => {
    expect(oneStatement.covers(booked.events, {} as SlotBook)).toBe(false);
  });
});
