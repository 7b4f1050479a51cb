import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decideRush, foldRush, type RushEvent, type SetRushMode } from '../../domain/rush.ts';
import { fold, type ScheduleEvent } from '../../domain/schedule.ts';
import { foldStream } from '../../domain/schedule-stream.ts';
import { defaultSlotOptions } from '../../domain/slot-state.ts';
import { decideBatch } from '../../requests/decide-batch.ts';
import type { BookingRequestMessage } from '../../requests/request-message.ts';
import {
  aScheduleOpened,
  BEFORE_SESSION,
  hospital,
  SEALED_STUB,
  anAppointmentBooked,
} from '../support/schedule-mother.ts';

const opened = aScheduleOpened({ capacity: 2 });
const scheduleId = opened.data.scheduleId;

/** Given the schedule's events and its rush events, when rush mode is set, then these events (or this error). */
function given(schedule: ScheduleEvent[], rush: RushEvent[] = []) {
  return {
    when(command: Partial<SetRushMode> & { enabled: boolean }) {
      const decision = decideRush(
        { type: 'SetRushMode', actor: hospital(), now: BEFORE_SESSION, ...command },
        { schedule: fold(schedule), enabled: foldRush(rush) },
      );
      return {
        then: (events: RushEvent[]) => expect(decision).toEqual({ ok: true, events }),
        thenRejectedWith: (code: string) => expect(decision).toEqual({ ok: false, error: { code } }),
      };
    },
  };
}

const changed = (enabled: boolean): RushEvent => ({
  type: 'RushModeChanged',
  data: { scheduleId, enabled, changedBy: hospital(), changedAt: BEFORE_SESSION.toISOString() },
});

describe('rush mode decider', () => {
  it('switches an open schedule on', () =>
    given([opened])
      .when({ enabled: true })
      .then([changed(true)]));
  it('switching to what it is records nothing', () => {
    given([opened]).when({ enabled: false }).then([]);
    given([opened], [changed(true)])
      .when({ enabled: true })
      .then([]);
  });
  it('records why when told (the automatic switch by booking rate)', () =>
    given([opened])
      .when({ enabled: true, reason: 'auto' })
      .then([{ ...changed(true), data: { ...changed(true).data, reason: 'auto' } }]));
  it('switches it off again', () =>
    given([opened], [changed(true)])
      .when({ enabled: false })
      .then([changed(false)]));
  it('an unknown schedule is not found', () =>
    given([]).when({ enabled: true }).thenRejectedWith('schedule_not_found'));
  it('a closed schedule is not switched on, but may be switched off', () => {
    const closed: ScheduleEvent = {
      type: 'ScheduleClosed',
      data: {
        scheduleId,
        reason: 'ill',
        cancelledAppointmentIds: [],
        closedBy: hospital(),
        closedAt: BEFORE_SESSION.toISOString(),
      },
    } as unknown as ScheduleEvent;
    given([opened, closed]).when({ enabled: true }).thenRejectedWith('schedule_closed');
    given([opened, closed], [changed(true)])
      .when({ enabled: false })
      .then([changed(false)]);
  });
});

const request = (patientRef: string): BookingRequestMessage => ({
  v: 1,
  requestId: randomUUID(),
  appointmentId: randomUUID(),
  scheduleId,
  patientRef,
  patient: SEALED_STUB,
  actor: { id: patientRef, role: 'patient' },
  acceptedAt: BEFORE_SESSION.toISOString(),
});

describe('a batch of requests, decided in order', () => {
  const state = foldStream([opened]);

  it('gives the places to the first requests and rejects the rest as schedule_full', () => {
    const batch = ['a', 'b', 'c', 'd'].map(request);
    const { decisions, events } = decideBatch(batch, state, BEFORE_SESSION, defaultSlotOptions);
    expect(decisions.map((d) => d.error?.code ?? 'booked')).toEqual([
      'booked',
      'booked',
      'schedule_full',
      'schedule_full',
    ]);
    expect(events.map((e) => e.type)).toEqual(['AppointmentBooked', 'AppointmentBooked']);
  });

  it('a patient asking twice in one batch is booked once (already_booked)', () => {
    const { decisions } = decideBatch(
      [request('a'), request('a')],
      state,
      BEFORE_SESSION,
      defaultSlotOptions,
    );
    expect(decisions.map((d) => d.error?.code ?? 'booked')).toEqual(['booked', 'already_booked']);
  });

  it('judges against the state it is given: places taken before the batch count', () => {
    const before = foldStream([opened, anAppointmentBooked(scheduleId, { patientRef: 'x' })]);
    const { decisions } = decideBatch(
      [request('a'), request('b')],
      before,
      BEFORE_SESSION,
      defaultSlotOptions,
    );
    expect(decisions.map((d) => d.error?.code ?? 'booked')).toEqual(['booked', 'schedule_full']);
  });

  it('a refusal of the per-patient rules takes no place: the next request gets it', () => {
    const batch = [request('a'), request('b'), request('c')];
    const refused = new Map([[batch[0]!.requestId, { code: 'too_many_active' as const, limit: 5 }]]);
    const { decisions } = decideBatch(batch, state, BEFORE_SESSION, defaultSlotOptions, refused);
    expect(decisions.map((d) => d.error?.code ?? 'booked')).toEqual(['too_many_active', 'booked', 'booked']);
  });

  it('an unknown schedule rejects every request', () => {
    const { decisions, events } = decideBatch(
      [request('a')],
      foldStream([]),
      BEFORE_SESSION,
      defaultSlotOptions,
    );
    expect(decisions[0]?.error?.code).toBe('schedule_not_found');
    expect(events).toEqual([]);
  });
});
