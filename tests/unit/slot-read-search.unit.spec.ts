/**
 * The analysts' appointments document follows a numbered appointment's life (issue 15): held →
 * confirmed → checked in / no-show, or expired; capacity-only appointments stay active/cancelled.
 */
import { describe, expect, it } from 'vitest';
import type { ScheduleOpened } from '../../domain/schedule.ts';
import type { ScheduleStreamEvent } from '../../domain/slot-state.ts';
import {
  type AppointmentDoc,
  evolveAppointment,
  factsOf,
  isAppointmentEvent,
} from '../../projections/search/appointments-model.ts';
import { BEFORE_SESSION } from '../support/schedule-mother.ts';
import {
  aCheckIn,
  anExpiry,
  aNoShow,
  aNumberedOpen,
  aPayment,
  aPlan,
  aSlotBooking,
  SESSION_START,
  streamOf,
} from '../support/slot-mother.ts';

const AFTER_SESSION = new Date(SESSION_START.getTime() + 24 * 3_600_000);

function statuses(events: ScheduleStreamEvent[], appointmentId: string): AppointmentDoc['status'][] {
  const facts = factsOf(events[0] as ScheduleOpened);
  const out: AppointmentDoc['status'][] = [];
  let doc: AppointmentDoc | null = null;
  for (const e of events) {
    if (!isAppointmentEvent(e) || e.data.appointmentId !== appointmentId) continue;
    doc = evolveAppointment(doc, e, facts, () => 'pseudonym');
    out.push(doc.status);
  }
  return out;
}

describe('the appointments index document of a numbered appointment', () => {
  const open = aNumberedOpen(aPlan({ count: 2, reservations: [] }), { fee: 5000 });

  it('goes held → confirmed → checked in', () => {
    const b = aSlotBooking(open.scheduleId);
    const events = streamOf([open, b, aPayment(b.appointmentId), aCheckIn(b.appointmentId, SESSION_START)]);
    expect(statuses(events, b.appointmentId)).toEqual(['active', 'held', 'confirmed', 'checked_in']);
  });

  it('goes held → expired at its deadline, and confirmed → no-show after the session', () => {
    const late = aSlotBooking(open.scheduleId);
    const paid = aSlotBooking(open.scheduleId);
    const events = streamOf([
      open,
      late,
      paid,
      aPayment(paid.appointmentId),
      anExpiry(late.appointmentId, new Date(BEFORE_SESSION.getTime() + 16 * 60_000)),
      aNoShow(paid.appointmentId, AFTER_SESSION),
    ]);
    expect(statuses(events, late.appointmentId)).toEqual(['active', 'held', 'expired']);
    expect(statuses(events, paid.appointmentId)).toEqual(['active', 'held', 'confirmed', 'no_show']);
  });

  it('confirms a free slot at once', () => {
    const free = aNumberedOpen(aPlan({ count: 1, reservations: [] }), { fee: 0 });
    const b = aSlotBooking(free.scheduleId);
    expect(statuses(streamOf([free, b]), b.appointmentId)).toEqual(['active', 'confirmed']);
  });
});
