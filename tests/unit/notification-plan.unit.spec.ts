import { describe, expect, it } from 'vitest';
import { messageBody, planNotifications, type PlannedEvent } from '../../notifications/plan.ts';
import { staleReason } from '../../notifications/sender.ts';
import { notificationKinds } from '../../platform/notify/provider.ts';

const settings = { holdReminderMinutes: 5, dayBeforeHours: 24 };
const at = new Date('2030-01-10T02:00:00.000Z');
const event = (type: string, data: Record<string, unknown>): PlannedEvent => ({
  id: `ev-${type}`,
  type,
  data: { scheduleId: 's1', appointmentId: 'a1', patientRef: 'r1', ...data },
  createdAt: at,
});
const taken = (over: Record<string, unknown>) =>
  event('SlotTaken', {
    slot: 3,
    slotStartsAt: '2030-01-15T00:14:00.000Z',
    amount: 5000,
    source: 'booking',
    holdExpiresAt: '2030-01-10T02:15:00.000Z',
    ...over,
  });

describe('planNotifications', () => {
  it('a hold: a reminder 5 minutes before its deadline, a day-before reminder waiting for the payment', () => {
    const plan = planNotifications(taken({}), settings);
    expect(plan.add.map((n) => [n.id, n.dueAt.toISOString(), n.status])).toEqual([
      ['hold_reminder:ev-SlotTaken', '2030-01-10T02:10:00.000Z', 'pending'],
      ['day_before:ev-SlotTaken', '2030-01-14T00:14:00.000Z', 'waiting'],
    ]);
  });

  it('a waitlist offer is told at once; a hold shorter than the reminder lead is reminded at once', () => {
    const plan = planNotifications(
      taken({ source: 'waitlist', holdExpiresAt: '2030-01-10T02:03:00.000Z' }),
      settings,
    );
    expect(plan.add.map((n) => [n.kind, n.dueAt.getTime() === at.getTime()])).toEqual([
      ['waitlist_offer', true],
      ['hold_reminder', true],
      ['day_before', false],
    ]);
  });

  it('a free slot is confirmed at once and its day-before reminder armed', () => {
    const plan = planNotifications(taken({ holdExpiresAt: null, amount: 0 }), settings);
    expect(plan.add.map((n) => [n.kind, n.status])).toEqual([
      ['confirmation', 'pending'],
      ['day_before', 'pending'],
    ]);
  });

  it('a payment confirms, arms the day-before reminder and drops the hold reminder', () => {
    const plan = planNotifications(event('PaymentConfirmed', { slot: 3, amount: 5000 }), settings);
    expect(plan.add.map((n) => n.id)).toEqual(['confirmation:ev-PaymentConfirmed']);
    expect(plan.arm).toEqual([{ appointmentId: 'a1', kinds: ['day_before'] }]);
    expect(plan.drop).toEqual([{ appointmentId: 'a1', kinds: ['hold_reminder'], reason: 'paid' }]);
  });

  it('an expiry and a cancellation drop the reminders; only the hospital’s cancellation is told', () => {
    expect(planNotifications(event('HoldExpired', {}), settings)).toMatchObject({
      add: [],
      drop: [{ kinds: ['hold_reminder', 'day_before'], reason: 'expired' }],
    });
    const byPatient = planNotifications(
      event('AppointmentCancelled', { cancelledBy: { id: 'r1', role: 'patient' } }),
      settings,
    );
    expect(byPatient.add).toEqual([]);
    expect(byPatient.drop).toHaveLength(1);
    for (const role of ['hospital', 'admin']) {
      const plan = planNotifications(
        event('AppointmentCancelled', { cancelledBy: { id: 'h', role } }),
        settings,
      );
      expect(plan.add.map((n) => n.kind)).toEqual(['cancelled_by_hospital']);
    }
  });

  it('contacts come from the booking (sealed); a forgotten patient is forgotten here too', () => {
    expect(planNotifications(event('AppointmentBooked', { patient: 'v1.a.b.c' }), settings).contacts).toEqual(
      [{ appointmentId: 'a1', patientRef: 'r1', patientSealed: 'v1.a.b.c' }],
    );
    expect(planNotifications(event('PatientForgotten', {}), settings).forget).toEqual(['r1']);
    expect(planNotifications(event('ScheduleOpened', {}), settings)).toEqual({
      contacts: [],
      add: [],
      arm: [],
      drop: [],
      forget: [],
    });
  });

  it('the same event plans the same keys (a replay adds nothing new)', () => {
    const ids = (e: PlannedEvent) => planNotifications(e, settings).add.map((n) => n.id);
    expect(ids(taken({}))).toEqual(ids(taken({})));
  });
});

describe('staleReason and messageBody', () => {
  it('a hold reminder after the deadline and a day-before reminder after the start are not sent', () => {
    const payload = { holdExpiresAt: '2030-01-10T02:15:00.000Z', slotStartsAt: '2030-01-15T00:14:00.000Z' };
    expect(staleReason({ kind: 'hold_reminder', payload }, new Date('2030-01-10T02:14:59Z'))).toBeUndefined();
    expect(staleReason({ kind: 'hold_reminder', payload }, new Date('2030-01-10T02:15:00Z'))).toBe(
      'hold_over',
    );
    expect(staleReason({ kind: 'day_before', payload }, new Date('2030-01-15T00:14:00Z'))).toBe(
      'session_started',
    );
    expect(staleReason({ kind: 'confirmation', payload }, new Date('2031-01-01'))).toBeUndefined();
  });

  it('every kind has a text', () => {
    for (const kind of notificationKinds) expect(messageBody(kind, { slot: 1 }).length).toBeGreaterThan(10);
  });
});
