import { describe, expect, it } from 'vitest';
import {
  barredFromOffers,
  bookingCutoff,
  cancellationCutoff,
  checkDecision,
  defaultPatientRuleOptions,
  emptyPatient,
  evolvePatient,
  type PatientFact,
  patientFactsOf,
  patientMayBook,
  type PatientState,
} from '../../domain/patient-rules.ts';
import { aCancellation } from '../support/schedule-mother.ts';
import { aNoShow, aNumberedOpen, aPayment, aPlan, aSlotBooking, streamOf } from '../support/slot-mother.ts';

const o = defaultPatientRuleOptions;
const NOW = new Date('2030-01-10T00:00:00.000Z');
const days = (n: number): number => n * 86_400_000;
const ref = (scheduleId: string, doctorId = 'd1', date = '2030-01-15') => ({ scheduleId, doctorId, date });

const withFacts = (...facts: PatientFact[]): PatientState => facts.reduce(evolvePatient, emptyPatient('p1'));
const booked = (appointmentId: string, s = ref('s1')): PatientFact => ({
  kind: 'booked',
  patientRef: 'p1',
  appointment: { appointmentId, ...s },
});

describe('per-patient rules', () => {
  it('one active appointment per patient per doctor per day (morning and afternoon are two schedules)', () => {
    const state = withFacts(booked('a1', ref('morning')));
    expect(patientMayBook(state, ref('afternoon'), NOW, o)).toEqual({
      code: 'one_per_doctor_per_day',
      appointmentId: 'a1',
    });
    expect(patientMayBook(state, ref('other-doctor', 'd2'), NOW, o)).toBeNull();
    expect(patientMayBook(state, ref('next-day', 'd1', '2030-01-16'), NOW, o)).toBeNull();
  });

  it('at most N active appointments (configurable)', () => {
    const state = withFacts(booked('a1', ref('s1', 'd1')), booked('a2', ref('s2', 'd2')));
    expect(patientMayBook(state, ref('s3', 'd3'), NOW, { ...o, maxActive: 2 })).toEqual({
      code: 'too_many_active',
      limit: 2,
    });
    expect(patientMayBook(state, ref('s3', 'd3'), NOW, { ...o, maxActive: 3 })).toBeNull();
  });

  it('an appointment of a past session no longer counts towards N, even if never marked attended', () => {
    const state = withFacts(booked('a1', ref('s1', 'd1', '2030-01-09')), booked('a2', ref('s2', 'd2')));
    expect(patientMayBook(state, ref('s3', 'd3'), NOW, { ...o, maxActive: 2 })).toBeNull();
    expect(patientMayBook(state, ref('s3', 'd3'), NOW, { ...o, maxActive: 1 })).toEqual({
      code: 'too_many_active',
      limit: 1,
    });
  });

  it('an ended appointment (cancelled, expired, attended) no longer counts', () => {
    const state = withFacts(booked('a1'), { kind: 'ended', patientRef: 'p1', appointmentId: 'a1' });
    expect(patientMayBook(state, ref('s2'), NOW, { ...o, maxActive: 1 })).toBeNull();
  });

  it('three no-shows within 90 days limit the patient; older ones do not count', () => {
    const noShow = (at: number): PatientFact => ({
      kind: 'no_show',
      patientRef: 'p1',
      appointmentId: `n${at}`,
      at: new Date(NOW.getTime() - days(at)).toISOString(),
    });
    const limited = withFacts(noShow(1), noShow(30), noShow(89));
    expect(patientMayBook(limited, ref('s9'), NOW, o)).toMatchObject({ code: 'no_show_limited', count: 3 });
    expect(patientMayBook(withFacts(noShow(1), noShow(30), noShow(91)), ref('s9'), NOW, o)).toBeNull();
    expect(patientMayBook(limited, ref('s9'), NOW, { ...o, noShowLimit: 4 })).toBeNull();
  });

  it('ignores facts about another patient', () => {
    expect(evolvePatient(emptyPatient('p2'), booked('a1')).active.size).toBe(0);
  });

  it('the cut-offs: booking before the session, cancelling before the slot', () => {
    const opts = { ...o, bookingCutoffMinutes: 60, cancellationCutoffMinutes: 120 };
    expect(bookingCutoff('2030-01-15T00:00:00.000Z', opts).toISOString()).toBe('2030-01-14T23:00:00.000Z');
    expect(cancellationCutoff('2030-01-15T01:00:00.000Z', opts).toISOString()).toBe(
      '2030-01-14T23:00:00.000Z',
    );
  });
});

describe('patient facts from a schedule’s events', () => {
  const open = aNumberedOpen(aPlan({ reservations: [] }));
  const s = ref(open.scheduleId, open.doctorId, open.date);
  const b1 = aSlotBooking(open.scheduleId, { patientRef: 'p1' });
  const b2 = aSlotBooking(open.scheduleId, { patientRef: 'p1', appointmentId: 'later' });

  it('a booking makes an active appointment, a cancellation ends it, a no-show is counted', () => {
    const events = streamOf([
      open,
      b1,
      aCancellation(b1.appointmentId),
      b2,
      aPayment('later'),
      aNoShow('later', new Date('2030-01-16T00:00:00Z')),
    ]);
    const state = patientFactsOf(events, s).reduce(evolvePatient, emptyPatient('p1'));
    expect(state.active.size).toBe(0);
    expect(state.noShows).toEqual(['2030-01-16T00:00:00.000Z']);
  });

  it('checkDecision refuses a decision that books a barred patient, and passes others', () => {
    const events = streamOf([open, b1]).slice(2);
    const busy = withFacts(booked('x', ref('other', open.doctorId, open.date)));
    expect(checkDecision(new Map([['p1', busy]]), events, s, NOW, o)).toMatchObject({
      patientRef: 'p1',
      error: { code: 'one_per_doctor_per_day' },
    });
    expect(checkDecision(new Map(), events, s, NOW, o)).toBeNull();
  });

  it('barredFromOffers names the waiting patients the rules refuse', () => {
    const busy = withFacts(booked('x', ref('other', 'd1', '2030-01-15')));
    expect(barredFromOffers([busy, emptyPatient('p2')], ref('s', 'd1', '2030-01-15'), NOW, o)).toEqual([
      'p1',
    ]);
  });
});
