/**
 * Test data for numbered schedules (domain/schedule-stream.ts): a plan, the commands with fresh
 * ids, and a given/when/then over the whole schedule stream.
 */
import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import { decideStream, foldStream } from '../../domain/schedule-stream.ts';
import {
  type BookSlot,
  type CheckIn,
  type ConfirmPayment,
  defaultSlotOptions,
  type ExpireHold,
  type JoinWaitlist,
  type MarkNoShow,
  type OpenWithSlots,
  type ScheduleStreamCommand,
  type ScheduleStreamErrorCode,
  type ScheduleStreamEvent,
  type SlotOptions,
  type SlotPlanInput,
} from '../../domain/slot-state.ts';
import { anOpenSchedule, BEFORE_SESSION, hospital, SEALED_STUB } from './schedule-mother.ts';

/** 2030-01-15 08:00 Asia/Shanghai: the default session's start and its first slot. */
export const SESSION_START = new Date('2030-01-15T00:00:00.000Z');
/** When the onsite reservation of `aPlan()` opens to everyone: the day before, 18:00 local. */
export const ONSITE_RELEASE = new Date('2030-01-14T10:00:00.000Z');

/** No. 1–30 from 08:00 every 7 minutes; No. 1–5 for the on-site window until the day before 18:00. */
export const aPlan = (overrides: Partial<SlotPlanInput> = {}): SlotPlanInput => ({
  firstSlotTime: '08:00',
  intervalMinutes: 7,
  count: 30,
  reservations: [{ channel: 'onsite', from: 1, to: 5, releasesAt: ONSITE_RELEASE }],
  ...overrides,
});

export const aNumberedOpen = (
  slots: SlotPlanInput = aPlan(),
  overrides: Partial<OpenWithSlots> = {},
): OpenWithSlots => ({ ...anOpenSchedule(overrides), slots, ...overrides });

export const aSlotBooking = (scheduleId: string, overrides: Partial<BookSlot> = {}): BookSlot => ({
  type: 'BookAppointment',
  scheduleId,
  appointmentId: randomUUID(),
  patientRef: `patient-${randomUUID().slice(0, 8)}`,
  patient: SEALED_STUB,
  now: BEFORE_SESSION,
  ...overrides,
});

export const aPayment = (appointmentId: string, overrides: Partial<ConfirmPayment> = {}): ConfirmPayment => ({
  type: 'ConfirmPayment',
  appointmentId,
  paymentRef: `pay-${randomUUID().slice(0, 8)}`,
  amount: 5000,
  now: BEFORE_SESSION,
  ...overrides,
});

export const anExpiry = (
  appointmentId: string,
  now: Date,
  overrides: Partial<ExpireHold> = {},
): ExpireHold => ({
  type: 'ExpireHold',
  appointmentId,
  now,
  ...overrides,
});

export const aWaitlistJoin = (scheduleId: string, overrides: Partial<JoinWaitlist> = {}): JoinWaitlist => ({
  type: 'JoinWaitlist',
  scheduleId,
  entryId: randomUUID(),
  patientRef: `patient-${randomUUID().slice(0, 8)}`,
  patient: SEALED_STUB,
  now: BEFORE_SESSION,
  ...overrides,
});

export const aCheckIn = (appointmentId: string, now: Date): CheckIn => ({
  type: 'CheckIn',
  appointmentId,
  actor: hospital(),
  now,
});

export const aNoShow = (appointmentId: string, now: Date): MarkNoShow => ({
  type: 'MarkNoShow',
  appointmentId,
  actor: hospital(),
  now,
});

/** Runs commands through decideStream and returns the events, failing on a refusal. */
export function streamOf(
  commands: ScheduleStreamCommand[],
  options: SlotOptions = defaultSlotOptions,
): ScheduleStreamEvent[] {
  const events: ScheduleStreamEvent[] = [];
  for (const command of commands) {
    const decision = decideStream(command, foldStream(events), options);
    if (!decision.ok) throw new Error(`${command.type} rejected: ${decision.error.code}`);
    events.push(...decision.events);
  }
  return events;
}

/** Given past events, when a command is decided (with options), then these events or this error. */
export function given(...history: ScheduleStreamEvent[]) {
  return {
    when(command: ScheduleStreamCommand, options: SlotOptions = defaultSlotOptions) {
      const decision = decideStream(command, foldStream(history), options);
      return {
        decision,
        then(expected: ScheduleStreamEvent[]) {
          expect(decision).toEqual({ ok: true, events: expected });
        },
        thenTypes(...types: ScheduleStreamEvent['type'][]) {
          expect(decision.ok ? decision.events.map((e) => e.type) : decision.error).toEqual(types);
        },
        thenRejectedWith(code: ScheduleStreamErrorCode) {
          expect(decision.ok ? decision.events : decision.error.code).toBe(code);
        },
        /** Accepted with nothing to record. */
        thenNothing() {
          expect(decision).toEqual({ ok: true, events: [] });
        },
      };
    },
  };
}

type DataOf<T extends ScheduleStreamEvent['type']> = Extract<ScheduleStreamEvent, { type: T }>['data'];

/** The events of one type in a history, data only. */
export function dataOf<T extends ScheduleStreamEvent['type']>(
  events: readonly ScheduleStreamEvent[],
  type: T,
): DataOf<T>[] {
  return events.filter((e) => e.type === type).map((e) => e.data) as DataOf<T>[];
}
