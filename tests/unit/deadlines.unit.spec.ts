import { describe, expect, it } from 'vitest';
import { deadlineChangesOf, deadlineCommand } from '../../domain/deadlines.ts';
import { aCancellation, aClosure, BEFORE_SESSION } from '../support/schedule-mother.ts';
import {
  aNumberedOpen,
  anExpiry,
  aPayment,
  aPlan,
  aSlotBooking,
  aWaitlistJoin,
  ONSITE_RELEASE,
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
    const opened = streamOf([open]);
    expect(deadlineChangesOf(streamOf([open, booking]).slice(opened.length))).toEqual({
      set: [{ kind: 'hold_expiry', subject: booking.appointmentId, dueAt: DEADLINE.toISOString() }],
      settledHolds: [],
    });
    const free = aNumberedOpen(aPlan({ reservations: [] }), { fee: 0 });
    const freeOpened = streamOf([free]);
    expect(
      deadlineChangesOf(streamOf([free, aSlotBooking(free.scheduleId)]).slice(freeOpened.length)),
    ).toEqual({
      set: [],
      settledHolds: [],
    });
  });

  it('releasing slots with a reservation sets its release time, once per distinct time', () => {
    const reserved = aNumberedOpen(
      aPlan({
        reservations: [
          { channel: 'onsite', from: 1, to: 2, releasesAt: ONSITE_RELEASE },
          { channel: 'follow-up', from: 3, to: 4, releasesAt: ONSITE_RELEASE },
        ],
      }),
    );
    expect(deadlineChangesOf(streamOf([reserved])).set).toEqual([
      { kind: 'slot_release', subject: reserved.scheduleId, dueAt: ONSITE_RELEASE.toISOString() },
    ]);
  });

  it('a payment, a cancellation and an expiry each settle it', () => {
    const decisions = [
      eventsOf(aPayment(booking.appointmentId)),
      eventsOf(aCancellation(booking.appointmentId)),
      eventsOf(anExpiry(booking.appointmentId, DEADLINE)),
    ];
    for (const events of decisions)
      expect(deadlineChangesOf(events).settledHolds).toEqual([booking.appointmentId]);
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
          kind: 'hold_expiry',
          subject: join.entryId,
          dueAt: new Date(DEADLINE.getTime() + 15 * 60_000).toISOString(),
        },
      ],
      settledHolds: [booking.appointmentId],
    });
  });

  it('closing settles every open hold', () => {
    expect(deadlineChangesOf(eventsOf(aClosure())).settledHolds).toEqual([booking.appointmentId]);
  });

  it('each deadline fires its command at the poller’s time', () => {
    const now = new Date(DEADLINE.getTime() + 1000);
    expect(
      deadlineCommand({ kind: 'hold_expiry', subject: 'a1', dueAt: DEADLINE.toISOString() }, now),
    ).toEqual({
      type: 'ExpireHold',
      appointmentId: 'a1',
      now,
      barredFromOffers: [],
    });
    expect(
      deadlineCommand({ kind: 'slot_release', subject: 's1', dueAt: DEADLINE.toISOString() }, now, ['p9']),
    ).toEqual({
      type: 'OfferFreeSlots',
      scheduleId: 's1',
      now,
      barredFromOffers: ['p9'],
    });
  });
});
