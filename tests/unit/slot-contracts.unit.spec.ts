/** The published JSON Schemas of the slot events accept what the numbered schedule's decider emits. */
import { describe, expect, it } from 'vitest';
import { latestSlotEventVersions, slotEventTypes } from '../../domain/slot-events.ts';
import type { ScheduleStreamEvent } from '../../domain/slot-state.ts';
import { aCancellation, hospital } from '../support/schedule-mother.ts';
import { contractsAjv, payloadViolations } from '../support/event-contracts.ts';
import {
  aCheckIn,
  aNoShow,
  aNumberedOpen,
  anExpiry,
  aPayment,
  aPlan,
  aSlotBooking,
  aWaitlistJoin,
  SESSION_START,
  streamOf,
} from '../support/slot-mother.ts';

/** A history with every slot event type in it. */
function everySlotEvent(): ScheduleStreamEvent[] {
  const open = aNumberedOpen(aPlan({ count: 3, reservations: [] }));
  const [a, b, c] = [0, 1, 2].map(() => aSlotBooking(open.scheduleId));
  const w1 = aWaitlistJoin(open.scheduleId);
  const w2 = aWaitlistJoin(open.scheduleId);
  const late = new Date('2030-01-16T00:00:00.000Z');
  return streamOf([
    open,
    a!,
    b!,
    c!,
    w1,
    w2,
    { type: 'LeaveWaitlist', entryId: w2.entryId, actor: hospital(), now: w2.now },
    aPayment(a!.appointmentId, { paymentRef: 'pay-a' }),
    aCancellation(a!.appointmentId),
    anExpiry(w1.entryId, new Date(w1.now.getTime() + 15 * 60_000)),
    aPayment(b!.appointmentId),
    aPayment(c!.appointmentId),
    aCheckIn(b!.appointmentId, SESSION_START),
    aNoShow(c!.appointmentId, late),
  ]);
}

describe('slot events against contracts/events', () => {
  it('every slot event type the decider emits conforms to its published v1 schema', () => {
    const events = everySlotEvent();
    const ajv = contractsAjv();
    const slotEvents = events.filter((e) => (slotEventTypes as readonly string[]).includes(e.type));
    expect(new Set(slotEvents.map((e) => e.type))).toEqual(new Set(slotEventTypes));
    for (const e of slotEvents) {
      const version = latestSlotEventVersions[e.type as keyof typeof latestSlotEventVersions];
      expect(payloadViolations(ajv, e.type, version, JSON.parse(JSON.stringify(e.data))), e.type).toEqual([]);
    }
  });

  it('refuse a slot taken without a slot number', () => {
    const taken = everySlotEvent().find((e) => e.type === 'SlotTaken')!;
    const { slot: _, ...withoutSlot } = taken.data as Record<string, unknown>;
    expect(payloadViolations(contractsAjv(), 'SlotTaken', 1, withoutSlot)).not.toEqual([]);
  });
});
