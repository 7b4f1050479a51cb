import { describe, expect, it } from 'vitest';
import { fold } from '../../domain/schedule.ts';
import { decideStream, foldStream, initialStreamState } from '../../domain/schedule-stream.ts';
import { slotEventSchemas } from '../../domain/slot-events.ts';
import { nextFreeSlot, slotStartsAt } from '../../domain/slots.ts';
import {
  aBooking,
  aCancellation,
  aCapacityChange,
  aClosure,
  anOpenSchedule,
  BEFORE_SESSION,
  historyOf,
} from '../support/schedule-mother.ts';
import {
  aNumberedOpen,
  aPlan,
  aSlotBooking,
  dataOf,
  given,
  ONSITE_RELEASE,
  SESSION_START,
  streamOf,
} from '../support/slot-mother.ts';

describe('OpenSchedule with slots', () => {
  it('opens the schedule with capacity = slot count and releases the numbered slots', () => {
    const cmd = aNumberedOpen();
    const decision = decideStream(cmd, initialStreamState());
    expect(decision.ok && decision.events.map((e) => e.type)).toEqual(['ScheduleOpened', 'SlotsReleased']);
    if (!decision.ok) return;
    expect(decision.events[0]!.data).toMatchObject({ capacity: 30, fee: cmd.fee });
    expect(decision.events[1]).toEqual({
      type: 'SlotsReleased',
      data: {
        scheduleId: cmd.scheduleId,
        firstSlotAt: '2030-01-15T00:00:00.000Z',
        intervalMinutes: 7,
        count: 30,
        reservations: [{ channel: 'onsite', from: 1, to: 5, releasesAt: ONSITE_RELEASE.toISOString() }],
      },
    });
  });

  it('gives slot n the time first + (n - 1) × interval: No. 30 at 11:23', () => {
    const state = foldStream(streamOf([aNumberedOpen()]));
    expect(slotStartsAt(state.book!.plan, 1)).toBe(SESSION_START.toISOString());
    expect(slotStartsAt(state.book!.plan, 30)).toBe('2030-01-15T03:23:00.000Z');
  });

  it.each([
    ['firstSlotTime', { firstSlotTime: '8:00' }],
    ['intervalMinutes', { intervalMinutes: 0 }],
    ['count', { count: 1001 }],
    [
      'slots.reservations',
      { reservations: [{ channel: 'onsite', from: 3, to: 31, releasesAt: ONSITE_RELEASE }] },
    ],
  ])('refuses a plan with a bad %s', (_field, plan) => {
    given()
      .when(aNumberedOpen(aPlan(plan)))
      .thenRejectedWith('invalid_command');
  });

  it('refuses overlapping reservations and a first slot before the session starts', () => {
    const overlapping = [
      { channel: 'onsite', from: 1, to: 5, releasesAt: ONSITE_RELEASE },
      { channel: 'follow-up', from: 5, to: 8, releasesAt: ONSITE_RELEASE },
    ];
    given()
      .when(aNumberedOpen(aPlan({ reservations: overlapping })))
      .thenRejectedWith('invalid_command');
    given()
      .when(aNumberedOpen(aPlan({ firstSlotTime: '07:59' })))
      .thenRejectedWith('invalid_command');
  });

  it('applies the capacity decider’s rules too: a started session is refused', () => {
    given()
      .when(aNumberedOpen(aPlan(), { now: SESSION_START }))
      .thenRejectedWith('session_started');
  });

  it('refuses opening a numbered schedule twice', () => {
    const open = aNumberedOpen();
    given(...streamOf([open]))
      .when(open)
      .thenRejectedWith('schedule_already_exists');
  });
});

describe('BookAppointment on a numbered schedule', () => {
  const open = aNumberedOpen();
  const opened = streamOf([open]);

  it('takes the lowest free slot the online channel may take (No. 6: 1–5 are on-site)', () => {
    const cmd = aSlotBooking(open.scheduleId);
    const { decision } = given(...opened).when(cmd);
    expect(decision.ok && dataOf(decision.events, 'SlotTaken')[0]).toMatchObject({
      slot: 6,
      slotStartsAt: '2030-01-15T00:35:00.000Z',
      channel: 'online',
      source: 'booking',
    });
  });

  it('gives the on-site channel its reserved slots first', () => {
    const { decision } = given(...opened).when(aSlotBooking(open.scheduleId, { channel: 'onsite' }));
    expect(decision.ok && dataOf(decision.events, 'SlotTaken')[0]?.slot).toBe(1);
  });

  it('opens reserved slots to everyone at their release time', () => {
    const afterRelease = new Date(ONSITE_RELEASE.getTime());
    const { decision } = given(...opened).when(aSlotBooking(open.scheduleId, { now: afterRelease }));
    expect(decision.ok && dataOf(decision.events, 'SlotTaken')[0]?.slot).toBe(1);
    given(...opened)
      .when(aSlotBooking(open.scheduleId, { slot: 2, now: new Date(ONSITE_RELEASE.getTime() - 1) }))
      .thenRejectedWith('slot_reserved');
  });

  it('takes a specific slot, and refuses it once taken or when it does not exist', () => {
    const first = aSlotBooking(open.scheduleId, { slot: 12 });
    const history = streamOf([open, first]);
    expect(dataOf(history, 'SlotTaken')[0]?.slot).toBe(12);
    given(...history)
      .when(aSlotBooking(open.scheduleId, { slot: 12 }))
      .thenRejectedWith('slot_taken');
    given(...history)
      .when(aSlotBooking(open.scheduleId, { slot: 31 }))
      .thenRejectedWith('slot_not_found');
    given(...history)
      .when(aSlotBooking(open.scheduleId, { slot: 0 }))
      .thenRejectedWith('slot_not_found');
  });

  it('answers schedule_full when no slot is left for the channel', () => {
    const small = aNumberedOpen(aPlan({ count: 2, reservations: [] }));
    const history = streamOf([small, aSlotBooking(small.scheduleId), aSlotBooking(small.scheduleId)]);
    given(...history)
      .when(aSlotBooking(small.scheduleId))
      .thenRejectedWith('schedule_full');
  });

  it('keeps one active appointment per patient and refuses a used appointment id', () => {
    const first = aSlotBooking(open.scheduleId, { patientRef: 'p1' });
    const history = streamOf([open, first]);
    given(...history)
      .when(aSlotBooking(open.scheduleId, { patientRef: 'p1' }))
      .thenRejectedWith('already_booked');
    given(...history)
      .when(aSlotBooking(open.scheduleId, { appointmentId: first.appointmentId }))
      .thenRejectedWith('appointment_id_taken');
  });

  it('refuses at the session start, and from the booking cut-off when one is set', () => {
    given(...opened)
      .when(aSlotBooking(open.scheduleId, { now: SESSION_START }))
      .thenRejectedWith('session_started');
    const options = {
      holdMinutes: 15,
      offerMinutes: 15,
      bookingCutoffMinutes: 60,
      cancellationCutoffMinutes: 0,
    };
    const hourBefore = new Date(SESSION_START.getTime() - 3_600_000);
    given(...opened)
      .when(aSlotBooking(open.scheduleId, { now: hourBefore }), options)
      .thenRejectedWith('booking_closed');
    given(...opened)
      .when(aSlotBooking(open.scheduleId, { now: new Date(hourBefore.getTime() - 1) }), options)
      .thenTypes('AppointmentBooked', 'SlotTaken');
  });

  it('refuses booking and capacity changes once closed; capacity is the slot count for good', () => {
    const closed = streamOf([open, aClosure()]);
    given(...closed)
      .when(aSlotBooking(open.scheduleId))
      .thenRejectedWith('schedule_closed');
    given(...opened)
      .when(aCapacityChange(40))
      .thenRejectedWith('invalid_command');
  });

  it('skips slots reserved for another channel before their release (follow-up gets No. 6)', () => {
    const state = foldStream(streamOf([open]));
    expect(nextFreeSlot(state.book!, 'follow-up', BEFORE_SESSION)).toBe(6);
  });
});

describe('a capacity-only schedule: a schedule without a slot book, decided as before', () => {
  const open = anOpenSchedule({ capacity: 2 });
  const booking = aBooking(open.scheduleId);
  const commands = [
    open,
    booking,
    aBooking(open.scheduleId),
    aCancellation(booking.appointmentId),
    aCapacityChange(5),
    aClosure(),
  ];

  it('decideStream writes exactly what decide writes', () => {
    const legacy = historyOf(...commands);
    expect(streamOf(commands)).toEqual(legacy);
    expect(foldStream(legacy).schedule).toEqual(fold(legacy));
    expect(foldStream(legacy).book).toBeNull();
  });

  it('refuses slot choices and slot commands on it', () => {
    const history = historyOf(open, booking);
    given(...history)
      .when(aSlotBooking(open.scheduleId, { slot: 1 }))
      .thenRejectedWith('not_numbered');
    given(...history)
      .when({
        type: 'ConfirmPayment',
        appointmentId: booking.appointmentId,
        paymentRef: 'x',
        amount: 1,
        now: BEFORE_SESSION,
      })
      .thenRejectedWith('not_numbered');
    given()
      .when({
        type: 'CheckIn',
        appointmentId: 'a',
        actor: { id: 'h', role: 'hospital' },
        now: BEFORE_SESSION,
      })
      .thenRejectedWith('schedule_not_found');
  });

  it('treats a deadline fired for one of its appointments as nothing to do', () => {
    given(...historyOf(open, booking))
      .when({ type: 'ExpireHold', appointmentId: booking.appointmentId, now: SESSION_START })
      .thenNothing();
  });
});

describe('slot events: one definition', () => {
  it('every slot event the decider emits reads back through its schema, through JSON', () => {
    const open = aNumberedOpen();
    const events = streamOf([open, aSlotBooking(open.scheduleId)]);
    for (const e of events.filter((x) => x.type in slotEventSchemas)) {
      const schema = slotEventSchemas[e.type as keyof typeof slotEventSchemas];
      expect(schema.parse(JSON.parse(JSON.stringify(e.data))), e.type).toEqual(e.data);
    }
  });
});
