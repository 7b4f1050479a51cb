/**
 * Which events a hospital receives and what of each (delivery/delivered-events.ts, docs/adr/0016):
 * the attendance and payment events are delivered like the other slot events, without the
 * platform's patient reference or actor ids, and every body built matches the receiver contract.
 */
import { describe, expect, it } from 'vitest';
import { type ScheduleSession, selectForDelivery } from '../../delivery/delivered-events.ts';
import type { EventEnvelope } from '../../projections/relay/event-message.ts';
import { deliverySchema } from '../support/receiver-contract.ts';

const session: ScheduleSession = {
  institutionId: 'inst-1',
  doctorId: '1',
  departmentId: '2',
  date: '2030-01-15',
  period: 'morning',
  sessionStartsAt: '2030-01-15T00:00:00.000Z',
};
const hospital = { id: 'staff-7', role: 'hospital' } as const;
const ids = { scheduleId: 's1', appointmentId: 'a1', patientRef: 'pref-secret', slot: 3 };

const envelope = (type: string, data: unknown): EventEnvelope => ({
  eventId: '00000000-0000-4000-8000-000000000001',
  streamId: 'schedule-s1',
  revision: 5,
  type,
  data,
  metadata: { schemaVersion: 1 },
  createdAt: '2030-01-15T01:00:00.000Z',
  checkpoint: '42',
});

/** The body the worker would send for the event (outbox fields filled as the sender does). */
function delivered(type: string, data: unknown) {
  const selected = selectForDelivery(envelope(type, data));
  if (selected.kind !== 'deliver') throw new Error(`not delivered: ${JSON.stringify(selected)}`);
  expect(selected.scheduleId).toBe('s1');
  const draft = selected.build(session);
  return {
    body: {
      institutionId: session.institutionId,
      seq: 1,
      idempotencyKey: 'inst-1:1',
      eventId: '00000000-0000-4000-8000-000000000001',
      type: draft.type,
      occurredAt: draft.occurredAt,
      data: draft.data,
    },
    draft,
  };
}

describe('delivered events', () => {
  const validate = deliverySchema();

  it.each([
    [
      'PatientCheckedIn',
      { ...ids, checkedInBy: hospital, checkedInAt: '2030-01-15T00:20:00.000Z' },
      { checkedInBy: 'hospital', checkedInAt: '2030-01-15T00:20:00.000Z' },
    ],
    [
      'NoShowMarked',
      { ...ids, markedBy: hospital, markedAt: '2030-01-15T05:00:00.000Z' },
      { markedBy: 'hospital', markedAt: '2030-01-15T05:00:00.000Z' },
    ],
    [
      'PaymentConfirmed',
      { ...ids, paymentRef: 'pay-9', amount: 5000, confirmedAt: '2030-01-10T00:05:00.000Z' },
      { paymentRef: 'pay-9', amount: 5000, confirmedAt: '2030-01-10T00:05:00.000Z' },
    ],
    [
      'HoldExpired',
      { ...ids, deadline: '2030-01-10T00:15:00.000Z', expiredAt: '2030-01-10T00:15:01.000Z' },
      { expiredAt: '2030-01-10T00:15:01.000Z' },
    ],
  ])('delivers %s without the patient reference or the actor id', (type, data, expected) => {
    const { body, draft } = delivered(type, data);
    expect(draft.type).toBe(type);
    expect(draft.patient).toBeUndefined();
    expect(body.data).toEqual({ scheduleId: 's1', appointmentId: 'a1', slot: 3, ...expected });
    expect(body.occurredAt).toBe(Object.values(expected).at(-1));
    expect(JSON.stringify(body)).not.toMatch(/pref-secret|staff-7/);
    expect(validate(body), JSON.stringify(validate.errors)).toBe(true);
  });

  it('skips an event the hospital does not get', () => {
    expect(selectForDelivery(envelope('RefundNeeded', { ...ids }))).toMatchObject({ kind: 'skip' });
    expect(selectForDelivery(envelope('WaitlistJoined', {}))).toMatchObject({ kind: 'skip' });
    expect(selectForDelivery(envelope('CapacityChanged', {}))).toMatchObject({ kind: 'skip' });
  });

  it('rejects, with its reason, a delivered event that breaks its schema or has an unknown version', () => {
    expect(selectForDelivery(envelope('PatientCheckedIn', { ...ids }))).toEqual({
      kind: 'reject',
      reason: expect.stringMatching(/^PatientCheckedIn data does not match its schema: checkedInBy/),
    });
    expect(selectForDelivery(envelope('AppointmentBooked', { appointmentId: 'a1' }))).toMatchObject({
      kind: 'reject',
      reason: expect.stringMatching(/^AppointmentBooked v1 data does not match its schema/),
    });
    const newer = (type: string, data: unknown) => ({
      ...envelope(type, data),
      metadata: { schemaVersion: 99 },
    });
    expect(selectForDelivery(newer('AppointmentBooked', { appointmentId: 'a1' }))).toEqual({
      kind: 'reject',
      reason: 'unknown schema version 99 of AppointmentBooked',
    });
    const checkedIn = { ...ids, checkedInBy: hospital, checkedInAt: '2030-01-15T00:20:00.000Z' };
    expect(selectForDelivery(newer('PatientCheckedIn', checkedIn))).toEqual({
      kind: 'reject',
      reason: 'unknown schema version 99 of PatientCheckedIn',
    });
  });

  it("the contract takes the actor's role only, never the actor", () => {
    const { body } = delivered('NoShowMarked', {
      ...ids,
      markedBy: hospital,
      markedAt: '2030-01-15T05:00:00.000Z',
    });
    expect(validate({ ...body, data: { ...body.data, markedBy: hospital } })).toBe(false);
  });
});
