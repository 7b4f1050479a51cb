import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Actor,
  decide,
  evolve,
  initialState,
  type ScheduleCommand,
  type ScheduleState,
} from '../../domain/schedule.ts';
import { anOpenSchedule, BEFORE_SESSION, SEALED_STUB } from '../support/schedule-mother.ts';

const SCHEDULE = 'property-schedule';
const patients = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7', 'p8'];
const appointmentIds = Array.from({ length: 12 }, (_, i) => `a${i}`);

const actorArb: fc.Arbitrary<Actor> = fc.oneof(
  fc.constantFrom(...patients).map((id): Actor => ({ id, role: 'patient' })),
  fc.constant<Actor>({ id: 'h1', role: 'hospital' }),
  fc.constant<Actor>({ id: 'ad1', role: 'admin' }),
);

const commandArb: fc.Arbitrary<ScheduleCommand> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      type: fc.constant('BookAppointment' as const),
      scheduleId: fc.constant(SCHEDULE),
      appointmentId: fc.constantFrom(...appointmentIds),
      patientRef: fc.constantFrom(...patients),
      patient: fc.constant(SEALED_STUB),
      now: fc.constant(BEFORE_SESSION),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      type: fc.constant('CancelAppointment' as const),
      appointmentId: fc.constantFrom(...appointmentIds),
      actor: actorArb,
      now: fc.constant(BEFORE_SESSION),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      type: fc.constant('ChangeCapacity' as const),
      capacity: fc.integer({ min: -1, max: 10 }),
      actor: actorArb,
      now: fc.constant(BEFORE_SESSION),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constant('CloseSchedule' as const),
      reason: fc.constantFrom('doctor ill', ''),
      actor: actorArb,
      now: fc.constant(BEFORE_SESSION),
    }),
  },
  { weight: 1, arbitrary: fc.constant(anOpenSchedule({ scheduleId: SCHEDULE, capacity: 2 })) },
);

function checkInvariants(state: ScheduleState): void {
  if (state.status === 'initial') return;
  const active = [...state.appointments.values()].filter((a) => a.status === 'active');
  // never more active appointments than capacity
  expect(active.length).toBeLessThanOrEqual(state.capacity);
  // the index of active appointments agrees with the appointments themselves
  expect(active.length).toBe(state.activeByPatient.size);
  // at most one active appointment per patient
  expect(new Set(active.map((a) => a.patientRef)).size).toBe(active.length);
  expect(state.capacity).toBeGreaterThanOrEqual(1);
  expect(state.capacity).toBeLessThanOrEqual(1000);
  if (state.status === 'closed') expect(active).toHaveLength(0);
}

describe('schedule decider properties', () => {
  const opened = (capacity: number): ScheduleState => {
    const decision = decide(anOpenSchedule({ scheduleId: SCHEDULE, capacity }), initialState());
    if (!decision.ok) throw new Error('open failed');
    return decision.events.reduce(evolve, initialState());
  };

  it('random command sequences never break capacity, one-per-patient or closure rules', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.array(commandArb, { maxLength: 60 }),
        (capacity, commands) => {
          let state = opened(capacity);
          for (const command of commands) {
            const decision = decide(command, state);
            if (decision.ok) for (const event of decision.events) state = evolve(state, event);
            checkInvariants(state);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('agrees with a naive reference model on which bookings are accepted', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.array(commandArb, { maxLength: 60 }),
        (capacity, commands) => {
          let state = opened(capacity);
          // The model: a list of (appointment, patient, active) and a capacity, nothing clever.
          const model = {
            capacity,
            closed: false,
            rows: [] as { id: string; patient: string; active: boolean }[],
          };
          for (const command of commands) {
            const decision = decide(command, state);
            if (command.type === 'BookAppointment') {
              const activeRows = model.rows.filter((r) => r.active);
              const expected =
                !model.closed &&
                activeRows.length < model.capacity &&
                !activeRows.some((r) => r.patient === command.patientRef) &&
                !model.rows.some((r) => r.id === command.appointmentId);
              expect(decision.ok).toBe(expected);
              if (expected)
                model.rows.push({ id: command.appointmentId, patient: command.patientRef, active: true });
            } else if (decision.ok) {
              for (const event of decision.events) {
                if (event.type === 'AppointmentCancelled') {
                  const row = model.rows.find((r) => r.id === event.data.appointmentId);
                  if (row) row.active = false;
                }
                if (event.type === 'CapacityChanged') model.capacity = event.data.capacity;
                if (event.type === 'ScheduleClosed') model.closed = true;
              }
            }
            if (decision.ok) for (const event of decision.events) state = evolve(state, event);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
