import { describe, expect, it } from 'vitest';
import { foldStream } from '../../domain/schedule-stream.ts';
import { defaultSlotOptions } from '../../domain/slot-state.ts';
import { aCancellation, aClosure, BEFORE_SESSION, hospital, patient } from '../support/schedule-mother.ts';
import {
  aNumberedOpen,
  anExpiry,
  aPayment,
  aPlan,
  aSlotBooking,
  aWaitlistJoin,
  dataOf,
  given,
  ONSITE_RELEASE,
  SESSION_START,
  streamOf,
} from '../support/slot-mother.ts';

const later = (ms: number): Date => new Date(BEFORE_SESSION.getTime() + ms);
const MIN = 60_000;

/** A two-slot schedule, both held: full. */
function full() {
  const open = aNumberedOpen(aPlan({ count: 2, reservations: [] }));
  const first = aSlotBooking(open.scheduleId, { patientRef: 'p1' });
  const second = aSlotBooking(open.scheduleId, { patientRef: 'p2' });
  return { open, first, second, history: streamOf([open, first, second]) };
}

describe('JoinWaitlist', () => {
  it('lets a patient wait when no slot is free', () => {
    const { open, history } = full();
    const join = aWaitlistJoin(open.scheduleId, { patientRef: 'w1', entryId: 'e1' });
    given(...history)
      .when(join)
      .then([
        {
          type: 'WaitlistJoined',
          data: {
            scheduleId: open.scheduleId,
            entryId: 'e1',
            patientRef: 'w1',
            patient: join.patient,
            channel: 'online',
            joinedAt: BEFORE_SESSION.toISOString(),
          },
        },
      ]);
  });

  it('refuses while a slot the patient may take is free: book it instead', () => {
    const open = aNumberedOpen();
    given(...streamOf([open]))
      .when(aWaitlistJoin(open.scheduleId))
      .thenRejectedWith('slot_available');
  });

  it('counts reserved slots as not free for other channels until their release', () => {
    const open = aNumberedOpen(
      aPlan({ count: 2, reservations: [{ channel: 'onsite', from: 2, to: 2, releasesAt: ONSITE_RELEASE }] }),
    );
    const history = streamOf([open, aSlotBooking(open.scheduleId)]);
    given(...history)
      .when(aWaitlistJoin(open.scheduleId))
      .thenTypes('WaitlistJoined');
    given(...history)
      .when(aWaitlistJoin(open.scheduleId, { channel: 'onsite' }))
      .thenRejectedWith('slot_available');
  });

  it('lets a patient wait once, and not while holding an appointment', () => {
    const { open, history } = full();
    const joined = [...history, ...decided(history, aWaitlistJoin(open.scheduleId, { patientRef: 'w1' }))];
    given(...joined)
      .when(aWaitlistJoin(open.scheduleId, { patientRef: 'w1' }))
      .thenRejectedWith('already_waitlisted');
    given(...history)
      .when(aWaitlistJoin(open.scheduleId, { patientRef: 'p1' }))
      .thenRejectedWith('already_booked');
  });

  it('refuses once the session started or the schedule closed', () => {
    const { open, history } = full();
    given(...history)
      .when(aWaitlistJoin(open.scheduleId, { now: SESSION_START }))
      .thenRejectedWith('session_started');
    given(...history, ...decided(history, aClosure()))
      .when(aWaitlistJoin(open.scheduleId))
      .thenRejectedWith('schedule_closed');
  });
});

describe('offers: a freed slot goes to the first waiting patient, in the same decision', () => {
  const { open, first, history } = full();
  const w1 = aWaitlistJoin(open.scheduleId, { patientRef: 'w1', entryId: 'e1' });
  const w2 = aWaitlistJoin(open.scheduleId, { patientRef: 'w2', entryId: 'e2' });
  const waiting = [
    ...history,
    ...decided(history, w1),
    ...decided([...history, ...decided(history, w1)], w2),
  ];

  it('a cancellation offers the slot to w1 as a hold with its own deadline', () => {
    const now = later(5 * MIN);
    const { decision } = given(...waiting).when(aCancellation(first.appointmentId, { now }));
    expect(decision.ok && decision.events.map((e) => e.type)).toEqual([
      'AppointmentCancelled',
      'AppointmentBooked',
      'SlotTaken',
    ]);
    expect(decision.ok && dataOf(decision.events, 'SlotTaken')[0]).toMatchObject({
      appointmentId: 'e1',
      patientRef: 'w1',
      slot: 1,
      source: 'waitlist',
      holdExpiresAt: new Date(now.getTime() + 15 * MIN).toISOString(),
    });
    if (!decision.ok) return;
    const after = foldStream([...waiting, ...decision.events]);
    expect(after.book!.waitlist.map((e) => e.patientRef)).toEqual(['w2']);
  });

  it('an expiry of that offer passes the slot on to w2', () => {
    const cancelled = [...waiting, ...decided(waiting, aCancellation(first.appointmentId))];
    const offerDeadline = later(15 * MIN);
    const { decision } = given(...cancelled).when(anExpiry('e1', offerDeadline));
    expect(decision.ok && decision.events.map((e) => e.type)).toEqual([
      'HoldExpired',
      'AppointmentBooked',
      'SlotTaken',
    ]);
    expect(decision.ok && dataOf(decision.events, 'SlotTaken')[0]).toMatchObject({
      patientRef: 'w2',
      slot: 1,
    });
  });

  it('the offer is held for the configured offer minutes and confirmed by a payment', () => {
    const options = { ...defaultSlotOptions, offerMinutes: 30 };
    const { decision } = given(...waiting).when(aCancellation(first.appointmentId), options);
    expect(decision.ok && dataOf(decision.events, 'SlotTaken')[0]?.holdExpiresAt).toBe(
      later(30 * MIN).toISOString(),
    );
    const offered = [...waiting, ...decided(waiting, aCancellation(first.appointmentId))];
    given(...offered)
      .when(aPayment('e1'))
      .thenTypes('PaymentConfirmed');
  });

  it('skips waiting patients the per-patient rules bar, keeping them in the queue', () => {
    const { decision } = given(...waiting).when({
      ...aCancellation(first.appointmentId),
      barredFromOffers: ['w1'],
    });
    expect(decision.ok && dataOf(decision.events, 'SlotTaken')[0]?.patientRef).toBe('w2');
    if (!decision.ok) return;
    expect(foldStream([...waiting, ...decision.events]).book!.waitlist.map((e) => e.patientRef)).toEqual([
      'w1',
    ]);
  });

  it('offers nothing once the session started (the hospital cancelling late)', () => {
    given(...waiting)
      .when(aCancellation(first.appointmentId, { actor: hospital(), now: SESSION_START }))
      .thenTypes('AppointmentCancelled');
  });

  it('confirms an offer at once when there is no fee', () => {
    const free = aNumberedOpen(aPlan({ count: 1, reservations: [] }), { fee: 0 });
    const b = aSlotBooking(free.scheduleId);
    const h = streamOf([free, b, aWaitlistJoin(free.scheduleId, { patientRef: 'w1' })]);
    const { decision } = given(...h).when(aCancellation(b.appointmentId));
    expect(decision.ok && dataOf(decision.events, 'SlotTaken')[0]).toMatchObject({
      patientRef: 'w1',
      holdExpiresAt: null,
    });
  });

  it('does not offer a reserved slot to a channel that may not take it yet', () => {
    const open = aNumberedOpen(
      aPlan({ count: 1, reservations: [{ channel: 'onsite', from: 1, to: 1, releasesAt: ONSITE_RELEASE }] }),
    );
    const b = aSlotBooking(open.scheduleId, { channel: 'onsite' });
    const h = streamOf([open, b, aWaitlistJoin(open.scheduleId, { patientRef: 'w1' })]);
    given(...h)
      .when(aCancellation(b.appointmentId))
      .thenTypes('AppointmentCancelled');
  });

  it('closing the schedule ends the waitlist', () => {
    const closed = [...waiting, ...decided(waiting, aClosure())];
    expect(foldStream(closed).book!.waitlist).toEqual([]);
  });
});

describe('OfferFreeSlots: a reservation released while patients wait', () => {
  // Two slots: No. 1 booked online, No. 2 on-site until the release; w1 and w2 wait online.
  const open = aNumberedOpen(
    aPlan({ count: 2, reservations: [{ channel: 'onsite', from: 2, to: 2, releasesAt: ONSITE_RELEASE }] }),
  );
  const h0 = streamOf([open, aSlotBooking(open.scheduleId)]);
  const w1 = aWaitlistJoin(open.scheduleId, { patientRef: 'w1', entryId: 'e1' });
  const w2 = aWaitlistJoin(open.scheduleId, { patientRef: 'w2', entryId: 'e2' });
  const waiting = [...h0, ...decided(h0, w1), ...decided([...h0, ...decided(h0, w1)], w2)];
  const offer = { type: 'OfferFreeSlots', scheduleId: open.scheduleId, now: ONSITE_RELEASE } as const;

  it('at the release time offers the freed slot to the first waiting patient', () => {
    const { decision } = given(...waiting).when(offer);
    expect(decision.ok && dataOf(decision.events, 'SlotTaken')).toMatchObject([
      { slot: 2, patientRef: 'w1', source: 'waitlist' },
    ]);
  });

  it('before the release offers nothing, and fired again after the offer offers nothing new', () => {
    given(...waiting)
      .when({ ...offer, now: new Date(ONSITE_RELEASE.getTime() - 1) })
      .thenNothing();
    given(...waiting, ...decided(waiting, offer))
      .when(offer)
      .thenNothing();
  });

  it('is refused on a capacity-only schedule', () => {
    const capacityOnly = streamOf([{ ...open, slots: undefined, scheduleId: 'c' }]);
    given(...capacityOnly)
      .when({ ...offer, scheduleId: 'c' })
      .thenRejectedWith('not_numbered');
  });
});

describe('LeaveWaitlist', () => {
  const { open, history } = full();
  const joined = [
    ...history,
    ...decided(history, aWaitlistJoin(open.scheduleId, { patientRef: 'w1', entryId: 'e1' })),
  ];

  it('removes the entry; only its patient (or the hospital) may', () => {
    const leave = {
      type: 'LeaveWaitlist',
      entryId: 'e1',
      actor: patient('w1'),
      now: BEFORE_SESSION,
    } as const;
    given(...joined)
      .when(leave)
      .thenTypes('WaitlistLeft');
    given(...joined)
      .when({ ...leave, actor: patient('w2') })
      .thenRejectedWith('not_appointment_holder');
    given(...joined, ...decided(joined, leave))
      .when(leave)
      .thenRejectedWith('waitlist_entry_not_found');
  });
});

/** The events one command adds to a history (fails the test when refused). */
function decided(
  history: Parameters<typeof given>,
  command: Parameters<ReturnType<typeof given>['when']>[0],
) {
  const { decision } = given(...history).when(command);
  if (!decision.ok) throw new Error(`${command.type} refused: ${decision.error.code}`);
  return decision.events;
}
