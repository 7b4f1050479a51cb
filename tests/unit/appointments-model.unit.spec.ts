import { describe, expect, it } from 'vitest';
import { decide, fold, type ScheduleEvent } from '../../domain/schedule.ts';
import { parseProjectionsConfig } from '../../projections/config.ts';
import {
  type AppointmentDoc,
  type AppointmentEvent,
  appointmentsIndexDefinition,
  evolveAppointment,
  factsOf,
  indexVersion,
  versionedIndexName,
  withNames,
} from '../../projections/search/appointments-model.ts';
import {
  aBooking,
  aCancellation,
  anOpenSchedule,
  BEFORE_SESSION,
  hospital,
} from '../support/schedule-mother.ts';

// The vault derives pseudonyms from each patient's data key; here a lookup by reference stands in.
const PSEUDONYM = 'ab'.repeat(32);
const pseudonymise = (ref: string) => (ref === 'ref-7' ? PSEUDONYM : null);

function scenario() {
  const open = anOpenSchedule({ institutionId: '11', departmentId: '22', doctorId: '33', fee: 800 });
  const booking = aBooking(open.scheduleId, { patientRef: 'ref-7' });
  const events: ScheduleEvent[] = [];
  for (const cmd of [open, booking, aCancellation(booking.appointmentId, { actor: hospital() })]) {
    const d = decide(cmd, fold(events));
    if (!d.ok) throw new Error(d.error.code);
    events.push(...d.events);
  }
  const [opened, booked, cancelled] = events as [
    Extract<ScheduleEvent, { type: 'ScheduleOpened' }>,
    AppointmentEvent,
    AppointmentEvent,
  ];
  return { facts: factsOf(opened), booked, cancelled, appointmentId: booking.appointmentId };
}

describe('appointments document: evolve', () => {
  it('a booking becomes an active document with the schedule facts and a pseudonymised patient', () => {
    const { facts, booked, appointmentId } = scenario();
    const doc = evolveAppointment(null, booked, facts, pseudonymise);
    expect(doc).toEqual<AppointmentDoc>({
      appointmentId,
      scheduleId: facts.scheduleId,
      institutionId: '11',
      institutionName: '11',
      departmentId: '22',
      departmentName: '22',
      doctorId: '33',
      doctorName: '33',
      date: facts.date,
      period: facts.period,
      sessionStartsAt: facts.sessionStartsAt,
      fee: 800,
      status: 'active',
      bookedAt: BEFORE_SESSION.toISOString(),
      cancelledAt: null,
      cancelledBy: null,
      patientPseudonym: PSEUDONYM,
    });
    expect(doc.patientPseudonym).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(doc)).not.toContain('ref-7');
  });

  it('a cancellation keeps the booking time and records when and by whom', () => {
    const { facts, booked, cancelled } = scenario();
    const doc = evolveAppointment(
      evolveAppointment(null, booked, facts, pseudonymise),
      cancelled,
      undefined,
      pseudonymise,
    );
    expect(doc).toMatchObject({
      status: 'cancelled',
      bookedAt: BEFORE_SESSION.toISOString(),
      cancelledAt: BEFORE_SESSION.toISOString(),
      cancelledBy: 'hospital',
    });
  });

  it('a cancellation without a document still yields one, with an unknown booking time', () => {
    const { facts, cancelled } = scenario();
    expect(evolveAppointment(null, cancelled, facts, pseudonymise)).toMatchObject({
      status: 'cancelled',
      bookedAt: null,
    });
    expect(() => evolveAppointment(null, cancelled, undefined, pseudonymise)).toThrow(/no schedule facts/);
  });

  it('names replace ids only where the catalog knows them', () => {
    const { facts, booked } = scenario();
    const doc = withNames(evolveAppointment(null, booked, facts, pseudonymise), { doctorName: '张医生' });
    expect(doc).toMatchObject({ doctorName: '张医生', institutionName: '11', departmentName: '22' });
  });

  it('a forgotten patient (no pseudonym any more) is indexed without one', () => {
    const { facts, booked } = scenario();
    const doc = evolveAppointment(null, booked, facts, () => null);
    expect(doc.patientPseudonym).toBeNull();
  });
});

describe('appointments index', () => {
  it('is strict and names its versions after the alias', () => {
    expect(appointmentsIndexDefinition.mappings.dynamic).toBe('strict');
    expect(versionedIndexName('appointments', 3)).toBe('appointments_v3');
    expect(indexVersion('appointments', 'appointments_v12')).toBe(12);
    expect(indexVersion('appointments', 'other_v1')).toBeUndefined();
  });
});

describe('projections config', () => {
  it('defaults to the platform topics', () => {
    const dev = parseProjectionsConfig({});
    expect(dev.ok && dev.config.EVENTS_TOPIC).toBe('booking.events');
    expect(dev.ok && dev.config.PROJECTIONS_PORT).toBe(3003);
    expect(parseProjectionsConfig({ PROJECTIONS_COMPONENTS: 'relay,nope' }).ok).toBe(false);
  });
});
