/**
 * The per-patient rules, serialised per patient as the lock of docs/adr/0012 serialises them:
 * whatever bookings, endings and no-shows arrive, in any order and at any time, a decision that
 * `checkDecision` passes never leaves a patient with two active appointments with one doctor on
 * one day, more than N active, or a booking made while limited by no-shows.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkDecision,
  defaultPatientRuleOptions,
  emptyPatient,
  evolvePatient,
  patientFactsOf,
  type PatientState,
  recentNoShows,
  upcomingCount,
  type ScheduleRef,
} from '../../domain/patient-rules.ts';
import type { ScheduleStreamEvent } from '../../domain/slot-state.ts';
import { SEALED_STUB } from '../support/schedule-mother.ts';

const DAY = 86_400_000;
const T0 = Date.parse('2030-01-01T00:00:00.000Z');
const schedules: ScheduleRef[] = ['d1', 'd2', 'd3'].flatMap((doctorId) =>
  ['2030-03-01', '2030-03-02'].flatMap((date) =>
    ['am', 'pm'].map((p) => ({ scheduleId: `${doctorId}-${date}-${p}`, doctorId, date })),
  ),
);

type Step =
  | { kind: 'book'; patientRef: string; schedule: ScheduleRef; day: number }
  | { kind: 'end' | 'no_show'; patientRef: string; pick: number; day: number };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('book' as const),
      patientRef: fc.constantFrom('p1', 'p2'),
      schedule: fc.constantFrom(...schedules),
      day: fc.integer({ min: 0, max: 200 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constantFrom('end' as const, 'no_show' as const),
      patientRef: fc.constantFrom('p1', 'p2'),
      pick: fc.nat(),
      day: fc.integer({ min: 0, max: 200 }),
    }),
  },
);

const booked = (id: string, patientRef: string, s: ScheduleRef, at: Date): ScheduleStreamEvent => ({
  type: 'AppointmentBooked',
  data: {
    scheduleId: s.scheduleId,
    appointmentId: id,
    patientRef,
    patient: SEALED_STUB,
    bookedAt: at.toISOString(),
  },
});

function ended(
  state: PatientState,
  step: Extract<Step, { kind: 'end' | 'no_show' }>,
  at: Date,
): PatientState {
  const active = [...state.active.values()];
  const a = active[step.pick % Math.max(1, active.length)];
  if (!a) return state;
  const fact =
    step.kind === 'end'
      ? { kind: 'ended' as const, patientRef: step.patientRef, appointmentId: a.appointmentId }
      : {
          kind: 'no_show' as const,
          patientRef: step.patientRef,
          appointmentId: a.appointmentId,
          at: at.toISOString(),
        };
  return evolvePatient(state, fact);
}

describe('per-patient rules under any sequence', () => {
  it('never two with one doctor on one day, never more than N, never while limited', () => {
    fc.assert(
      fc.property(
        fc.array(stepArb, { minLength: 10, maxLength: 80, size: 'max' }),
        fc.integer({ min: 1, max: 4 }),
        (steps, maxActive) => {
          const o = { ...defaultPatientRuleOptions, maxActive };
          const states = new Map([
            ['p1', emptyPatient('p1')],
            ['p2', emptyPatient('p2')],
          ]);
          steps.forEach((step, i) => {
            const now = new Date(T0 + step.day * DAY);
            const state = states.get(step.patientRef)!;
            if (step.kind !== 'book') return void states.set(step.patientRef, ended(state, step, now));
            const events = [booked(`a${i}`, step.patientRef, step.schedule, now)];
            if (checkDecision(states, events, step.schedule, now, o) !== null) return;
            expect(recentNoShows(state, now, o).length).toBeLessThan(o.noShowLimit);
            const after = patientFactsOf(events, step.schedule).reduce(evolvePatient, state);
            states.set(step.patientRef, after);
            const active = [...after.active.values()];
            expect(upcomingCount(after, now)).toBeLessThanOrEqual(maxActive);
            expect(new Set(active.map((a) => `${a.doctorId} ${a.date}`)).size).toBe(active.length);
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});
