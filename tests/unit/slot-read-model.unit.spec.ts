/**
 * The slot read model's pure fold (projections/redis/read-model.ts + slot-read-model.ts): given the
 * schedule stream's events, the availability document shows each slot's state and a remaining
 * count that holds expiring and cancellations give back. Properties under random command
 * sequences (decided by the real decider): remaining = count − held − confirmed, the slot states
 * equal the decider's own slot book, and replaying any prefix again changes nothing.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Actor } from '../../domain/schedule.ts';
import { decideStream, foldStream } from '../../domain/schedule-stream.ts';
import type { ScheduleStreamCommand, ScheduleStreamEvent } from '../../domain/slot-state.ts';
import { evolveSchedule, scheduleEffects } from '../../projections/redis/read-model.ts';
import { keyspace, remaining, type ScheduleView } from '../../read-models/bookings.ts';
import { publicSlots, slotCounts } from '../../read-models/slots.ts';
import { BEFORE_SESSION, hospital, SEALED_STUB } from '../support/schedule-mother.ts';
import {
  aCheckIn,
  aNumberedOpen,
  anExpiry,
  aPayment,
  aPlan,
  aSlotBooking,
  aWaitlistJoin,
  ONSITE_RELEASE,
  SESSION_START,
  streamOf,
} from '../support/slot-mother.ts';

const MIN = 60_000;
const fold = (events: readonly ScheduleStreamEvent[]): ScheduleView =>
  events.reduce<ScheduleView | null>((v, e, rev) => evolveSchedule(v, e, rev), null)!;
const paid = (overrides = {}) =>
  aNumberedOpen(aPlan({ count: 3, reservations: [] }), { fee: 5000, ...overrides });

describe('the slot availability document', () => {
  it('shows a hold as held with its deadline, then confirmed once paid', () => {
    const open = paid();
    const booking = aSlotBooking(open.scheduleId);
    const held = fold(streamOf([open, booking]));
    expect(held.slots && publicSlots(held.slots, BEFORE_SESSION)).toEqual([
      {
        slot: 1,
        startsAt: '2030-01-15T00:00:00.000Z',
        state: 'held',
        holdExpiresAt: new Date(BEFORE_SESSION.getTime() + 15 * MIN).toISOString(),
      },
      { slot: 2, startsAt: '2030-01-15T00:07:00.000Z', state: 'free' },
      { slot: 3, startsAt: '2030-01-15T00:14:00.000Z', state: 'free' },
    ]);
    expect([held.booked, remaining(held)]).toEqual([1, 2]);
    const confirmed = fold(streamOf([open, booking, aPayment(booking.appointmentId)]));
    expect(confirmed.slots && publicSlots(confirmed.slots, BEFORE_SESSION)[0]?.state).toBe('confirmed');
    expect(remaining(confirmed)).toBe(2);
  });

  it('gives an expired hold its slot back: free again, remaining up again', () => {
    const open = paid();
    const booking = aSlotBooking(open.scheduleId);
    const late = new Date(BEFORE_SESSION.getTime() + 16 * MIN);
    const view = fold(streamOf([open, booking, anExpiry(booking.appointmentId, late)]));
    expect(view.slots && publicSlots(view.slots, late).map((s) => s.state)).toEqual(['free', 'free', 'free']);
    expect([view.booked, remaining(view)]).toEqual([0, 3]);
  });

  it('says a reserved slot is reserved for its channel until it releases, then free', () => {
    const open = aNumberedOpen(aPlan({ count: 6 }));
    const view = fold(streamOf([open]));
    const before = publicSlots(view.slots!, BEFORE_SESSION);
    expect(before[0]).toEqual({
      slot: 1,
      startsAt: '2030-01-15T00:00:00.000Z',
      state: 'reserved',
      channel: 'onsite',
      releasesAt: ONSITE_RELEASE.toISOString(),
    });
    expect(before.map((s) => s.state)).toEqual([
      'reserved',
      'reserved',
      'reserved',
      'reserved',
      'reserved',
      'free',
    ]);
    expect(publicSlots(view.slots!, ONSITE_RELEASE).every((s) => s.state === 'free')).toBe(true);
    // Reserved places are still places: remaining counts them.
    expect(remaining(view)).toBe(6);
  });

  it('keeps checked-in slots taken and never names who holds a slot', () => {
    const open = aNumberedOpen(aPlan({ count: 2, reservations: [] }), { fee: 0 });
    const booking = aSlotBooking(open.scheduleId);
    const view = fold(streamOf([open, booking, aCheckIn(booking.appointmentId, SESSION_START)]));
    const served = publicSlots(view.slots!, SESSION_START);
    expect(served[0]).toEqual({ slot: 1, startsAt: '2030-01-15T00:00:00.000Z', state: 'confirmed' });
    expect(JSON.stringify(served)).not.toContain(booking.appointmentId);
    expect(JSON.stringify(served)).not.toContain(booking.patientRef);
    expect(remaining(view)).toBe(1);
  });

  it('writes the appointment transitions, the day list and the patient list', () => {
    const open = paid();
    const booking = aSlotBooking(open.scheduleId, { slot: 2 });
    const events = streamOf([open, booking, aPayment(booking.appointmentId)]);
    const keys = keyspace('t', 1);
    let view: ScheduleView | null = null;
    const ops = events.flatMap((e, rev) => {
      const effect = scheduleEffects(view, e, rev, keys);
      view = effect.view;
      return effect.ops;
    });
    const appointmentWrites = ops.filter((o) => o.key === keys.appointment(booking.appointmentId));
    expect(appointmentWrites.map((o) => o.args[o.args.indexOf('status') + 1])).toEqual([
      'active',
      'held',
      'confirmed',
    ]);
    expect(ops).toContainEqual({
      cmd: 'ZADD',
      key: keys.scheduleAppointments(open.scheduleId),
      args: ['2', booking.appointmentId],
    });
    expect(ops).toContainEqual({
      cmd: 'ZADD',
      key: keys.patientAppointments(booking.patientRef),
      args: [String(Date.parse('2030-01-15T00:07:00.000Z')), booking.appointmentId],
    });
    expect(ops).toContainEqual({
      cmd: 'ZADD',
      key: keys.doctorDays(open.doctorId),
      args: [String(SESSION_START.getTime()), open.scheduleId],
    });
  });

  it('keeps a forgotten patient off the lists: no patient list, no identity on a waitlist entry', () => {
    const open = aNumberedOpen(aPlan({ count: 1, reservations: [] }), { fee: 0 });
    const booking = aSlotBooking(open.scheduleId);
    const join = aWaitlistJoin(open.scheduleId);
    const events = streamOf([open, booking, join]);
    const keys = keyspace('t', 1);
    const forgotten = new Set([booking.patientRef, join.patientRef]);
    let view: ScheduleView | null = null;
    const ops = events.flatMap((e, rev) => {
      const effect = scheduleEffects(view, e, rev, keys, forgotten);
      view = effect.view;
      return effect.ops;
    });
    expect(ops.filter((o) => o.key.includes(':patient:'))).toEqual([]);
    expect(JSON.stringify(ops)).not.toContain(SEALED_STUB);
  });
});

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

const patients = ['p1', 'p2', 'p3', 'p4'];
const ids = Array.from({ length: 6 }, (_, i) => `a${i}`);
const idArb = fc.constantFrom(...ids);
const clockArb = fc.integer({ min: 0, max: 90 }).map((m) => new Date(BEFORE_SESSION.getTime() + m * MIN));
const actorArb: fc.Arbitrary<Actor> = fc.oneof(
  fc.constantFrom(...patients).map((id): Actor => ({ id, role: 'patient' })),
  fc.constant(hospital()),
);

const commandArb: fc.Arbitrary<ScheduleStreamCommand> = fc.oneof(
  fc.record({
    type: fc.constant('BookAppointment' as const),
    scheduleId: fc.constant('s'),
    appointmentId: idArb,
    patientRef: fc.constantFrom(...patients),
    patient: fc.constant(SEALED_STUB),
    slot: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
    now: clockArb,
  }),
  fc.record({
    type: fc.constant('ConfirmPayment' as const),
    appointmentId: idArb,
    paymentRef: fc.constantFrom('r1', 'r2'),
    amount: fc.constant(5000),
    now: clockArb,
  }),
  fc.record({ type: fc.constant('ExpireHold' as const), appointmentId: idArb, now: clockArb }),
  fc.record({
    type: fc.constant('CancelAppointment' as const),
    appointmentId: idArb,
    actor: actorArb,
    now: clockArb,
  }),
  fc.record({
    type: fc.constant('JoinWaitlist' as const),
    scheduleId: fc.constant('s'),
    entryId: idArb,
    patientRef: fc.constantFrom(...patients),
    patient: fc.constant(SEALED_STUB),
    now: clockArb,
  }),
  fc.record({
    type: fc.constant('CheckIn' as const),
    appointmentId: idArb,
    actor: fc.constant(hospital()),
    now: fc.constant(SESSION_START),
  }),
);

/** The accepted events of a random command sequence on a 3-slot schedule (fee 0 or 50 yuan). */
const historyArb = fc
  .tuple(fc.constantFrom(0, 5000), fc.array(commandArb, { maxLength: 30 }))
  .map(([fee, commands]) => {
    const events = streamOf([aNumberedOpen(aPlan({ count: 3, reservations: [] }), { scheduleId: 's', fee })]);
    for (const command of commands) {
      const decision = decideStream(command, foldStream(events));
      if (decision.ok) events.push(...decision.events);
    }
    return events;
  });

describe('the slot read model, under random command sequences', () => {
  it('remaining = count − held − confirmed, and the slots are the decider’s own', () => {
    fc.assert(
      fc.property(historyArb, (events) => {
        const view = fold(events);
        const doc = view.slots!;
        const { held, confirmed } = slotCounts(doc);
        expect(remaining(view)).toBe(doc.count - held - confirmed);
        const book = foldStream(events).book!;
        expect(remaining(view)).toBe(book.plan.count - book.taken.size);
        const taken = Object.fromEntries([...book.taken].map(([slot, id]) => [String(slot), id]));
        expect(Object.fromEntries(Object.entries(doc.taken).map(([s, t]) => [s, t.appointmentId]))).toEqual(
          taken,
        );
        for (const [slot, t] of Object.entries(doc.taken)) {
          const status = book.bookings.get(t.appointmentId)?.status;
          expect(t.state, `slot ${slot}`).toBe(status);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('replaying any prefix again (a redelivery) leaves the document and its writes as they were', () => {
    fc.assert(
      fc.property(
        historyArb.chain((events) => fc.tuple(fc.constant(events), fc.nat({ max: events.length }))),
        ([events, cut]) => {
          const once = fold(events);
          const keys = keyspace('t', 1);
          let view: ScheduleView | null = null;
          const apply = (e: ScheduleStreamEvent, rev: number) => {
            const effect = scheduleEffects(view, e, rev, keys);
            view = effect.view;
            return effect.ops;
          };
          events.forEach(apply);
          const replayed = events.slice(0, cut).flatMap(apply);
          expect(replayed).toEqual([]);
          expect(view).toEqual(once);
          // The same prefix folded twice into the document, then the rest: the same document.
          const prefix = events.slice(0, cut);
          const twice = [
            ...prefix.map((e, rev) => [e, rev] as const),
            ...events.map((e, rev) => [e, rev] as const),
          ];
          expect(twice.reduce<ScheduleView | null>((v, [e, rev]) => evolveSchedule(v, e, rev), null)).toEqual(
            once,
          );
        },
      ),
      { numRuns: 200 },
    );
  });
});
