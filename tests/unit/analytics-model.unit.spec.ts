import { describe, expect, it } from 'vitest';
import {
  evolveAnalytics,
  hospitalClock,
  monthlyIndexName,
  monthOfIndex,
  withCatalog,
  type AnalyticsDoc,
  type AppointmentEvent,
  type ScheduleFacts,
} from '../../projections/analytics/analytics-model.ts';
import { patchOf, patchQuery } from '../../projections/analytics/catalog-renames.ts';
import { expiredIndices, oldestKeptMonth } from '../../projections/analytics/retention.ts';
import type { ChangeEvent } from '../../projections/catalog/change-event.ts';
import { UNAVAILABLE_VALUE } from '../../connectors/catalog-connector.ts';

const facts: ScheduleFacts = {
  scheduleId: 's1',
  doctorId: '3',
  institutionId: '1',
  departmentId: '2',
  date: '2026-03-02',
  period: 'morning',
  sessionStartsAt: '2026-03-02T00:00:00.000Z',
  fee: 3000,
};
const ref = 'ref-1';
const pseudonymise = (r: string) => (r === ref ? 'pseudo-1' : null);
const booked: AppointmentEvent = {
  type: 'AppointmentBooked',
  data: {
    scheduleId: 's1',
    appointmentId: 'a1',
    patientRef: ref,
    patient: 'v1.a.b.c',
    bookedAt: '2026-02-27T12:00:00.000Z',
  },
};
const cancelled: AppointmentEvent = {
  type: 'AppointmentCancelled',
  data: {
    scheduleId: 's1',
    appointmentId: 'a1',
    patientRef: ref,
    reason: null,
    cancelledBy: { id: ref, role: 'patient' },
    cancelledAt: '2026-02-28T00:00:00.000Z',
  },
};

const fold = (events: AppointmentEvent[]): AnalyticsDoc =>
  events.reduce<AnalyticsDoc | null>((doc, e) => evolveAnalytics(doc, e, facts, pseudonymise), null)!;

describe('evolveAnalytics', () => {
  it('builds the document from the schedule facts: lead time, clock in hospital time, pseudonym', () => {
    expect(fold([booked])).toMatchObject({
      appointmentId: 'a1',
      institutionName: '1',
      sessionDate: '2026-03-02',
      sessionHour: 8,
      sessionWeekday: 1,
      leadTimeHours: 60,
      status: 'active',
      transitions: [{ status: 'booked', at: '2026-02-27T12:00:00.000Z' }],
      patientPseudonym: 'pseudo-1',
    });
  });

  it('records each transition once, in time order, even when an event is folded again', () => {
    const doc = fold([booked, cancelled, cancelled]);
    expect(doc).toMatchObject({
      status: 'cancelled',
      cancelledBy: 'patient',
      cancelledAt: '2026-02-28T00:00:00.000Z',
    });
    expect(doc.transitions.map((t) => t.status)).toEqual(['booked', 'cancelled']);
  });

  it('takes the hour of a numbered slot, and its hold, payment and attendance', () => {
    const slot = { scheduleId: 's1', appointmentId: 'a1', patientRef: ref, slot: 4 };
    const doc = fold([
      booked,
      {
        type: 'SlotTaken',
        data: {
          ...slot,
          slotStartsAt: '2026-03-02T01:30:00.000Z',
          channel: 'online',
          source: 'booking',
          amount: 3000,
          holdExpiresAt: '2026-02-27T12:15:00.000Z',
          takenAt: '2026-02-27T12:00:00.000Z',
        },
      },
      {
        type: 'PaymentConfirmed',
        data: { ...slot, paymentRef: 'p', amount: 3000, confirmedAt: '2026-02-27T12:05:00.000Z' },
      },
      {
        type: 'NoShowMarked',
        data: { ...slot, markedBy: { id: 'h', role: 'hospital' }, markedAt: '2026-03-02T03:00:00.000Z' },
      },
    ]);
    expect(doc).toMatchObject({
      status: 'no_show',
      sessionHour: 9,
      channel: 'online',
      confirmedAt: '2026-02-27T12:05:00.000Z',
    });
    expect(doc.transitions.map((t) => t.status)).toEqual(['booked', 'held', 'confirmed', 'no_show']);
  });

  it('needs the schedule facts for a first event', () => {
    expect(() => evolveAnalytics(null, booked, undefined, pseudonymise)).toThrow(/no schedule facts/);
  });

  it('adds what the catalog knows, keeping ids for what it does not', () => {
    const doc = withCatalog(fold([booked]), {
      institutions: new Map([
        ['1', { name: '协和', city: '北京', district: null, level: '三级甲等', type: '综合医院' }],
      ]),
      departments: new Map(),
      doctors: new Map([['3', { name: '张医生', title: '主任医师' }]]),
    });
    expect(doc).toMatchObject({
      institutionName: '协和',
      city: '北京',
      departmentName: '2',
      doctorTitle: '主任医师',
    });
  });
});

describe('clock and months', () => {
  it('reads hour and ISO weekday in UTC+8 (a Sunday 23:30 in UTC is Monday 07:30)', () => {
    expect(hospitalClock('2026-03-01T23:30:00.000Z')).toEqual({ hour: 7, weekday: 1 });
  });

  it('names monthly indices by session month and reads them back', () => {
    expect(monthlyIndexName('analytics', '2026-03-14')).toBe('analytics-2026-03');
    expect(monthOfIndex('analytics', 'analytics-2026-03')).toBe('2026-03');
    expect(monthOfIndex('analytics', 'analytics-2026-13')).toBeUndefined();
    expect(monthOfIndex('analytics', 'analytics_v1')).toBeUndefined();
  });

  it('keeps the current month and the months before it, up to the retention', () => {
    expect(oldestKeptMonth(new Date('2026-06-15T00:00:00Z'), 24)).toBe('2024-07');
    // 2026-06-30T20:00Z is already July 1st in the hospital.
    expect(oldestKeptMonth(new Date('2026-06-30T20:00:00Z'), 1)).toBe('2026-07');
    expect(
      expiredIndices(
        'a',
        ['a-2024-06', 'a-2024-07', 'a-2026-06', 'other-2020-01'],
        new Date('2026-06-15T00:00:00Z'),
        24,
      ),
    ).toEqual(['a-2024-06']);
  });
});

const change = (table: string, after: Record<string, unknown>, op: ChangeEvent['op'] = 'u'): ChangeEvent => ({
  kind: 'change',
  op,
  table,
  id: String(after.id),
  before: null,
  after,
  lsn: 1,
  snapshot: false,
  sourceTsMs: 0,
  tsMs: 0,
});

describe('catalog renames', () => {
  it('turns an institution update into the fields it sets, where any of them differs', () => {
    const patch = patchOf(
      change('institutions', {
        id: 1,
        name: '新名',
        city: '北京',
        district: null,
        level: '三级甲等',
        type: '综合医院',
      }),
    )!;
    expect(patch).toEqual({
      idField: 'institutionId',
      id: '1',
      set: {
        institutionName: '新名',
        city: '北京',
        district: null,
        institutionLevel: '三级甲等',
        institutionType: '综合医院',
      },
    });
    expect(patchQuery(patch)).toMatchObject({
      bool: {
        filter: [{ term: { institutionId: '1' } }],
        should: expect.arrayContaining([
          { exists: { field: 'district' } },
          { bool: { must_not: { term: { city: '北京' } } } },
        ]) as unknown,
        minimum_should_match: 1,
      },
    });
  });

  it('leaves an unreadable (unchanged TOAST) column alone, and ignores snapshots, inserts and deletes', () => {
    expect(patchOf(change('doctors', { id: 3, name: UNAVAILABLE_VALUE, title: '主任医师' }))?.set).toEqual({
      doctorTitle: '主任医师',
    });
    expect(patchOf(change('departments', { id: 2, name: '心内科', category: '内科' }, 'r'))).toBeUndefined();
    expect(patchOf(change('homepage_content', { id: 9, title: 'x' }))).toBeUndefined();
  });
});
