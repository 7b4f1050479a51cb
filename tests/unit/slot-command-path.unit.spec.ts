/**
 * The command side's half of numbered slots that needs no database: every slot and per-patient
 * refusal has a problem of its own with a stable status, the slot events carry their schema
 * version when stored and are folded on load, and the patients the rules bar are passed to the
 * decider only for the commands that may offer a slot.
 */
import { describe, expect, it } from 'vitest';
import { withBarred } from '../../command-api/patient-rules-port.ts';
import { problemFor } from '../../command-api/problems.ts';
import { ScheduleStates } from '../../command-api/schedule-states.ts';
import { stampStreamVersion } from '../../command-api/stream-versions.ts';
import type { PatientRuleError } from '../../domain/patient-rules.ts';
import { decideStream, foldStream } from '../../domain/schedule-stream.ts';
import type { SlotError, StreamState } from '../../domain/slot-state.ts';
import type { RecordedEvent } from '../../platform/event-store/event-store.ts';
import { catalogue } from '../../platform/http/errors.ts';
import { BEFORE_SESSION } from '../support/schedule-mother.ts';
import { aNumberedOpen, aPlan, aSlotBooking } from '../support/slot-mother.ts';

const refusals: [SlotError | PatientRuleError, string, number][] = [
  [{ code: 'not_numbered' }, 'not_numbered', 422],
  [{ code: 'slot_not_found', slot: 99 }, 'slot_not_found', 422],
  [{ code: 'slot_taken', slot: 1 }, 'slot_taken', 409],
  [{ code: 'slot_reserved', slot: 1, channel: 'onsite', releasesAt: 'x' }, 'slot_reserved', 409],
  [{ code: 'hold_not_expired', appointmentId: 'a', deadline: 'x' }, 'hold_not_expired', 409],
  [{ code: 'hold_expired', appointmentId: 'a' }, 'hold_expired', 409],
  [{ code: 'payment_ref_conflict', appointmentId: 'a' }, 'payment_ref_conflict', 409],
  [{ code: 'payment_amount_mismatch', expected: 1, amount: 2 }, 'payment_amount_mismatch', 422],
  [{ code: 'not_confirmed', appointmentId: 'a' }, 'not_confirmed', 409],
  [{ code: 'too_early', earliest: 'x' }, 'too_early', 409],
  [{ code: 'not_permitted', reason: 'no' }, 'forbidden', 403],
  [{ code: 'already_waitlisted', entryId: 'e' }, 'already_waitlisted', 409],
  [{ code: 'slot_available' }, 'slot_available', 409],
  [{ code: 'waitlist_entry_not_found', entryId: 'e' }, 'waitlist_entry_not_found', 404],
  [{ code: 'booking_closed', cutoff: 'x' }, 'booking_closed', 422],
  [{ code: 'cancellation_closed', cutoff: 'x' }, 'cancellation_closed', 422],
  [{ code: 'one_per_doctor_per_day', appointmentId: 'a' }, 'one_per_doctor_per_day', 409],
  [{ code: 'too_many_active', limit: 5 }, 'too_many_active', 409],
  [{ code: 'no_show_limited', count: 3, since: 'x' }, 'no_show_limited', 409],
];

describe('slot refusals as problems', () => {
  it.each(refusals)('%o → %s (%d)', (error, code, status) => {
    const outcome = problemFor(error);
    expect(outcome.code).toBe(code);
    expect(catalogue[outcome.code].status).toBe(status);
  });
});

/** A numbered schedule with one held slot and `waiting` patients on its waitlist. */
function numberedWithWaitlist(waiting: string[]): StreamState {
  const open = aNumberedOpen(aPlan({ count: 1, reservations: [] }));
  const opened = decideStream(open, foldStream([]));
  if (!opened.ok) throw new Error(opened.error.code);
  let state = foldStream(opened.events);
  const booked = decideStream(aSlotBooking(open.scheduleId), state);
  if (!booked.ok) throw new Error(booked.error.code);
  state = foldStream(booked.events, state);
  for (const patientRef of waiting) {
    const joined = decideStream(
      {
        type: 'JoinWaitlist',
        scheduleId: open.scheduleId,
        entryId: crypto.randomUUID(),
        patientRef,
        patient: 'v1.a.b.c',
        now: BEFORE_SESSION,
      },
      state,
    );
    if (!joined.ok) throw new Error(joined.error.code);
    state = foldStream(joined.events, state);
  }
  return state;
}

describe('withBarred', () => {
  const rules = {
    barred: (w: readonly string[]) => Promise.resolve(w.filter((p) => p === 'p-2')),
    apply: () => Promise.resolve(),
  };

  it('asks the rules about the waiting patients before an expiry, and adds those barred by a lost race', async () => {
    const state = numberedWithWaitlist(['p-1', 'p-2']);
    const command = await withBarred(
      rules,
      { type: 'ExpireHold', appointmentId: 'x', now: BEFORE_SESSION },
      state,
      ['p-1'],
    );
    expect(command).toMatchObject({ barredFromOffers: ['p-2', 'p-1'] });
  });

  it('leaves a booking, and a schedule nobody waits for, alone', async () => {
    const state = numberedWithWaitlist([]);
    const booking = aSlotBooking('s');
    expect(await withBarred(rules, booking, numberedWithWaitlist(['p-2']), [])).toBe(booking);
    const expire = { type: 'ExpireHold', appointmentId: 'x', now: BEFORE_SESSION } as const;
    expect(await withBarred(rules, expire, state, [])).toBe(expire);
  });
});

describe('slot events in the store', () => {
  it('are stamped with their version and folded on load into the slot book', async () => {
    const open = aNumberedOpen();
    const opened = decideStream(open, foldStream([]));
    if (!opened.ok) throw new Error(opened.error.code);
    const stored: RecordedEvent[] = opened.events.map((e, i) => ({
      streamId: 'schedule-x',
      revision: BigInt(i),
      type: e.type,
      data: e.data,
      metadata: stampStreamVersion(e.type, {}),
      checkpoint: `${i}`,
    })) as unknown as RecordedEvent[];
    expect(stored.map((e) => [e.type, e.metadata.schemaVersion])).toEqual([
      ['ScheduleOpened', 1],
      ['SlotsReleased', 1],
    ]);
    const loaded = await new ScheduleStates().load(
      { readStream: () => Promise.resolve(stored) },
      'schedule-x',
    );
    expect(loaded.book?.plan.count).toBe(30);
    expect(loaded.state.status).toBe('open');
  });

  it('refuses a slot event of a version this build does not know', async () => {
    const open = aNumberedOpen();
    const opened = decideStream(open, foldStream([]));
    if (!opened.ok) throw new Error(opened.error.code);
    const stored = opened.events.map((e, i) => ({
      streamId: 'schedule-y',
      revision: BigInt(i),
      type: e.type,
      data: e.data,
      metadata: { schemaVersion: e.type === 'SlotsReleased' ? 2 : 1 },
      checkpoint: `${i}`,
    })) as unknown as RecordedEvent[];
    await expect(
      new ScheduleStates().load({ readStream: () => Promise.resolve(stored) }, 'schedule-y'),
    ).rejects.toThrow('unknown schema version 2 of SlotsReleased');
  });
});
