import { describe, expect, it } from 'vitest';
import { deadlineChangesOf } from '../../domain/deadlines.ts';
import { aCancellation, aClosure, BEFORE_SESSION } from '../support/schedule-mother.ts';
import {
  aNumberedOpen,
  anExpiry,
  aPayment,
  aPlan,
  aSlotBooking,
  aWaitlistJoin,
  streamOf,
} from '../support/slot-mother.ts';

const open = aNumberedOpen(aPlan({ count: 1, reservations: [] }));
const booking = aSlotBooking(open.scheduleId);
const DEADLINE = new Date(BEFORE_SESSION.getTime() + 15 * 60_000);
const eventsOf = (...commands: Parameters<typeof streamOf>[0]) => {
  const before = streamOf([open, booking]);
  return streamOf([open, booking, ...commands]).slice(before.length);
};

describe('deadlines set and settled by a decision', () => {
  it('a paid booking sets its hold deadline; a free one sets none', () => {
    expect(deadlineChangesOf(streamOf([open, booking]))).toEqual({
      set: [{ appointmentId: booking.appointmentId, kind: 'hold_expiry', dueAt: DEADLINE.toISOString() }],
      settled: [],
    });
    const free = aNumberedOpen(aPlan(), { fee: 0 });
    expect(deadlineChangesOf(streamOf([free, aSlotBooking(free.scheduleId)]))).toEqual({
      set: [],
      settled: [],
    });
  });

  it('a payment, a cancellation and an expiry each settle it', () => {
    for (const events of [
      eventsOf(aPayment(booking.appointmentId)),
      eventsOf(aCancellation(booking.appointmentId)),
      eventsOf(anExpiry(booking.appointmentId, DEADLINE)),
    ])
      expect(deadlineChangesOf(events).settled).toEqual([booking.appointmentId]);
  });

  it('an expiry that offers the slot on settles one deadline and sets the offer’s', () => {
    const join = aWaitlistJoin(open.scheduleId);
    const before = streamOf([open, booking, join]);
    const events = streamOf([open, booking, join, anExpiry(booking.appointmentId, DEADLINE)]).slice(
      before.length,
    );
    expect(deadlineChangesOf(events)).toEqual({
      set: [
        {
          appointmentId: join.entryId,
          kind: 'hold_expiry',
          dueAt: new Date(DEADLINE.getTime() + 15 * 60_000).toISOString(),
        },
      ],
      settled: [booking.appointmentId],
    });
  });

  it('closing settles every open hold', () => {
    expect(deadlineChangesOf(eventsOf(aClosure())).settled).toEqual([booking.appointmentId]);
  });
});
