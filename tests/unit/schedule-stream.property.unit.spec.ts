/**
 * Properties of a numbered schedule under random interleavings of book / confirm / expire /
 * cancel / waitlist / attendance commands with a random (skewed, non-monotonic) clock, checked
 * against a model built from the events alone (not from the decider's state):
 * - no slot is ever held or confirmed for two appointments at once;
 * - a confirmed appointment is never lost (only an explicit cancellation ends it);
 * - every hold that was neither paid nor cancelled expires exactly once, however often its
 *   deadline fires.
 * Two API instances deciding on cached state are modelled with the stream's revision check; a
 * control shows the same check is what the first property rests on.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Actor } from '../../domain/schedule.ts';
import { scheduleEventSchemas } from '../../domain/schedule-events.ts';
import { decideStream, evolveStream, foldStream } from '../../domain/schedule-stream.ts';
import { slotEventSchemas } from '../../domain/slot-events.ts';
import type { ScheduleStreamCommand, ScheduleStreamEvent, StreamState } from '../../domain/slot-state.ts';
import { BEFORE_SESSION, SEALED_STUB } from '../support/schedule-mother.ts';
import { aNumberedOpen, aPlan, SESSION_START, streamOf } from '../support/slot-mother.ts';

const MIN = 60_000;
const patients = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6'];
/** One pool for appointment and waitlist entry ids, so they collide too. */
const ids = Array.from({ length: 8 }, (_, i) => `a${i}`);

/** Mostly the hour after BEFORE_SESSION (holds of 15 min expire in it), sometimes the session day. */
const clockArb: fc.Arbitrary<Date> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.integer({ min: 0, max: 90 }).map((m) => new Date(BEFORE_SESSION.getTime() + m * MIN)),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: -600, max: 600 }).map((m) => new Date(SESSION_START.getTime() + m * MIN)),
  },
);
const actorArb: fc.Arbitrary<Actor> = fc.oneof(
  fc.constantFrom(...patients).map((id): Actor => ({ id, role: 'patient' })),
  fc.constant<Actor>({ id: 'h1', role: 'hospital' }),
);
const barredArb = fc.subarray(patients, { maxLength: 2 });
const idArb = fc.constantFrom(...ids);

const commandArb: fc.Arbitrary<ScheduleStreamCommand> = fc.oneof(
  {
    weight: 60,
    arbitrary: fc.record({
      type: fc.constant('BookAppointment' as const),
      scheduleId: fc.constant('s'),
      appointmentId: idArb,
      patientRef: fc.constantFrom(...patients),
      patient: fc.constant(SEALED_STUB),
      slot: fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined }),
      channel: fc.constantFrom(undefined, 'onsite'),
      now: clockArb,
    }),
  },
  {
    weight: 40,
    arbitrary: fc.record({
      type: fc.constant('ConfirmPayment' as const),
      appointmentId: idArb,
      paymentRef: fc.constantFrom('r1', 'r2', 'r3'),
      amount: fc.constantFrom(5000, 5000, 1),
      now: clockArb,
    }),
  },
  {
    weight: 40,
    arbitrary: fc.record({
      type: fc.constant('ExpireHold' as const),
      appointmentId: idArb,
      now: clockArb,
      barredFromOffers: barredArb,
    }),
  },
  {
    weight: 30,
    arbitrary: fc.record({
      type: fc.constant('CancelAppointment' as const),
      appointmentId: idArb,
      actor: actorArb,
      now: clockArb,
      barredFromOffers: barredArb,
    }),
  },
  {
    weight: 30,
    arbitrary: fc.record({
      type: fc.constant('JoinWaitlist' as const),
      scheduleId: fc.constant('s'),
      entryId: idArb,
      patientRef: fc.constantFrom(...patients),
      patient: fc.constant(SEALED_STUB),
      channel: fc.constantFrom(undefined, 'onsite'),
      now: clockArb,
    }),
  },
  {
    weight: 10,
    arbitrary: fc.record({
      type: fc.constant('LeaveWaitlist' as const),
      entryId: idArb,
      actor: actorArb,
      now: clockArb,
    }),
  },
  {
    weight: 20,
    arbitrary: fc.record({
      type: fc.constantFrom('CheckIn' as const, 'MarkNoShow' as const),
      appointmentId: idArb,
      actor: actorArb,
      now: clockArb,
    }),
  },
  {
    weight: 10,
    arbitrary: fc.record({
      type: fc.constant('OfferFreeSlots' as const),
      scheduleId: fc.constant('s'),
      now: clockArb,
      barredFromOffers: barredArb,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constant('CloseSchedule' as const),
      reason: fc.constant('doctor ill'),
      actor: fc.constant<Actor>({ id: 'h1', role: 'hospital' }),
      now: clockArb,
    }),
  },
);

/** Three slots (No. 1 on-site until 30 minutes in), fee 0 or 50 yuan. */
const openedArb = fc.constantFrom(0, 5000).map((fee) =>
  streamOf([
    aNumberedOpen(
      aPlan({
        count: 3,
        reservations: [
          { channel: 'onsite', from: 1, to: 1, releasesAt: new Date(BEFORE_SESSION.getTime() + 30 * MIN) },
        ],
      }),
      { scheduleId: 's', fee },
    ),
  ]),
);

/** What the events alone say: who is on which slot, who is confirmed, how often each hold expired. */
class EventModel {
  readonly onSlot = new Map<number, string>();
  readonly slotOf = new Map<string, number>();
  readonly confirmed = new Set<string>();
  readonly held = new Set<string>();
  readonly expiries = new Map<string, number>();

  apply(e: ScheduleStreamEvent): void {
    switch (e.type) {
      case 'SlotTaken': {
        const { slot, appointmentId } = e.data;
        expect(this.onSlot.get(slot), `slot ${slot} given twice`).toBeUndefined();
        this.onSlot.set(slot, appointmentId);
        this.slotOf.set(appointmentId, slot);
        if (e.data.holdExpiresAt === null) this.confirmed.add(appointmentId);
        else this.held.add(appointmentId);
        break;
      }
      case 'PaymentConfirmed':
        expect(this.held.has(e.data.appointmentId), 'confirmed a hold it does not hold').toBe(true);
        this.held.delete(e.data.appointmentId);
        this.confirmed.add(e.data.appointmentId);
        break;
      case 'HoldExpired':
        expect(this.confirmed.has(e.data.appointmentId), 'a confirmed appointment expired').toBe(false);
        this.expiries.set(e.data.appointmentId, (this.expiries.get(e.data.appointmentId) ?? 0) + 1);
        this.release(e.data.appointmentId);
        break;
      case 'AppointmentCancelled':
        this.release(e.data.appointmentId);
        break;
      default:
        break;
    }
  }

  private release(appointmentId: string): void {
    const slot = this.slotOf.get(appointmentId);
    if (slot !== undefined && this.onSlot.get(slot) === appointmentId) this.onSlot.delete(slot);
    this.slotOf.delete(appointmentId);
    this.held.delete(appointmentId);
    this.confirmed.delete(appointmentId);
  }
}

function checkEvents(events: readonly ScheduleStreamEvent[]): void {
  for (const e of events) {
    const schema = (e.type in slotEventSchemas ? slotEventSchemas : scheduleEventSchemas) as Record<
      string,
      { parse(d: unknown): unknown }
    >;
    expect(schema[e.type]!.parse(e.data)).toEqual(e.data);
  }
}

/** The decider's state agrees with the model: every confirmed appointment is still on its slot. */
function checkState(state: StreamState, model: EventModel): void {
  const book = state.book!;
  for (const id of model.confirmed) {
    const status = book.bookings.get(id)?.status;
    if (status !== 'confirmed' && status !== 'checked_in' && status !== 'no_show')
      throw new Error(`${id} lost: ${status}`);
    if (book.taken.get(model.slotOf.get(id)!) !== id) throw new Error(`${id} is off its slot`);
  }
  if (book.taken.size !== model.onSlot.size)
    throw new Error('the book and the events disagree on taken slots');
  for (const [slot, id] of model.onSlot)
    if (book.taken.get(slot) !== id) throw new Error(`slot ${slot}: ${id} per the events`);
  if (state.schedule.status === 'initial') throw new Error('not opened');
  if (state.schedule.activeByPatient.size !== book.taken.size)
    throw new Error('active appointments ≠ taken slots');
  if (new Set(book.waitlist.map((w) => w.patientRef)).size !== book.waitlist.length)
    throw new Error('a patient waits twice');
}

/** Decides and appends one command; returns the new events (none when refused). */
function run(log: ScheduleStreamEvent[], state: StreamState, command: ScheduleStreamCommand) {
  const decision = decideStream(command, state);
  if (!decision.ok) return { state, events: [] as ScheduleStreamEvent[] };
  log.push(...decision.events);
  return { state: decision.events.reduce(evolveStream, state), events: decision.events };
}

/** The deadline poller catching up after the session (no offers then), firing every hold twice. */
function drain(log: ScheduleStreamEvent[], model: EventModel, state: StreamState): StreamState {
  const late = new Date(SESSION_START.getTime() + 86_400_000);
  for (let round = 0; round < 2; round++) {
    for (const b of [...state.book!.bookings.values()].filter((x) => x.status === 'held' || round === 1)) {
      const step = run(log, state, { type: 'ExpireHold', appointmentId: b.appointmentId, now: late });
      step.events.forEach((e) => model.apply(e));
      if (round === 1) expect(step.events).toEqual([]);
      state = step.state;
    }
  }
  return state;
}

describe('numbered schedule properties', () => {
  it('never one slot for two appointments, never a confirmed one lost, every expiry exactly once', () => {
    fc.assert(
      fc.property(
        openedArb,
        fc.array(commandArb, { minLength: 20, maxLength: 80, size: 'max' }),
        (opened, commands) => {
          const log = [...opened];
          const model = new EventModel();
          let state = foldStream(log);
          for (const command of commands) {
            const step = run(log, state, command);
            checkEvents(step.events);
            step.events.forEach((e) => model.apply(e));
            state = step.state;
            checkState(state, model);
          }
          state = drain(log, model, state);
          expect(foldStream(log)).toEqual(state);
          const holds = log.flatMap((e) =>
            e.type === 'SlotTaken' && e.data.holdExpiresAt !== null ? [e.data.appointmentId] : [],
          );
          const settled = new Set(
            log.flatMap((e) =>
              e.type === 'PaymentConfirmed' || e.type === 'AppointmentCancelled'
                ? [e.data.appointmentId]
                : [],
            ),
          );
          for (const id of holds) expect(model.expiries.get(id) ?? 0).toBe(settled.has(id) ? 0 : 1);
        },
      ),
      { numRuns: 300 },
    );
  }, 60_000);
});

/**
 * Two instances, each deciding on its own cached state (as the command API's LRU does). With the
 * revision check, a decision on a stale state is refused at append and redone on fresh state.
 */
function twoInstances(
  commands: [0 | 1, ScheduleStreamCommand][],
  opened: ScheduleStreamEvent[],
  checkRevision: boolean,
) {
  const log = [...opened];
  const caches = [0, 1].map(() => ({ state: foldStream(log), revision: log.length }));
  const model = new EventModel();
  opened.forEach((e) => model.apply(e));
  for (const [instance, command] of commands) {
    const cache = caches[instance]!;
    let decision = decideStream(command, cache.state);
    if (decision.ok && decision.events.length > 0 && checkRevision && cache.revision !== log.length) {
      Object.assign(cache, { state: foldStream(log), revision: log.length });
      decision = decideStream(command, cache.state);
    }
    // A refusal or a no-op appends nothing, so it leaves the cache as it was (stale or not).
    if (!decision.ok || decision.events.length === 0) continue;
    log.push(...decision.events);
    decision.events.forEach((e) => model.apply(e));
    Object.assign(cache, { state: decision.events.reduce(evolveStream, cache.state), revision: log.length });
  }
}

describe('two API instances on one schedule stream', () => {
  const interleaving = fc.array(fc.tuple(fc.constantFrom<0 | 1>(0, 1), commandArb), {
    minLength: 20,
    maxLength: 60,
    size: 'max',
  });

  it('with the revision check, no interleaving gives a slot twice', () => {
    fc.assert(
      fc.property(openedArb, interleaving, (opened, commands) => twoInstances(commands, opened, true)),
      {
        numRuns: 300,
      },
    );
  }, 60_000);

  it('control: without it, stale decisions do give a slot twice (so the check above can fail)', () => {
    const result = fc.check(
      fc.property(openedArb, interleaving, (opened, commands) => twoInstances(commands, opened, false)),
      { numRuns: 2000, seed: 15 },
    );
    expect(result.failed).toBe(true);
    expect(String(result.errorInstance)).toContain('given twice');
  });
});
