/**
 * Rush mode of a schedule (issue 17; docs/adr/0015): while it is on, bookings are accepted into
 * Kafka (`booking.requests`) and decided in topic order, in batches, by the request processor
 * (requests/). Switching it is recorded on the schedule's own stream as `RushModeChanged`.
 *
 * The event lives apart from `ScheduleStreamEvent` on purpose (like slot-events.ts did): the
 * capacity and slot deciders never look at it, the stream's loaders skip it (it still advances
 * the revision), and projectors ignore a type they do not know. Pure: time passed in.
 */
import { z } from 'zod';
import type { ScheduleState } from './schedule.ts';
import { actorRoles, type Actor } from './schedule-events.ts';

const actor = z.object({ id: z.string(), role: z.enum(actorRoles) });

export const rushEventSchemas = {
  /** The schedule's bookings go through the queue (`enabled`) or straight to the stream again. */
  RushModeChanged: z.object({
    scheduleId: z.string().min(1),
    enabled: z.boolean(),
    changedBy: actor,
    changedAt: z.string().min(1),
    /**
     * Why: absent (events before it existed, and every switch by a person) is a manual switch;
     * `auto` is the command API's own switch on a booking rate above RUSH_AUTO_THRESHOLD_PER_S
     * (command-api/rush-auto-switch.ts). Additive, so still version 1 (docs/adr/0009).
     */
    reason: z.enum(['manual', 'auto']).optional(),
  }),
} as const;

export type RushEventType = keyof typeof rushEventSchemas;
export interface RushModeChanged {
  type: 'RushModeChanged';
  data: z.infer<(typeof rushEventSchemas)['RushModeChanged']>;
}
export type RushEvent = RushModeChanged;

/** The version this build writes of each rush event type (ADR 0009). */
export const latestRushEventVersions: Readonly<Record<RushEventType, number>> = { RushModeChanged: 1 };

export const isRushEventType = (type: string): type is RushEventType => Object.hasOwn(rushEventSchemas, type);

export interface SetRushMode {
  type: 'SetRushMode';
  enabled: boolean;
  actor: Actor;
  now: Date;
  /** Recorded on the event when given (the automatic switch says `auto`). */
  reason?: 'manual' | 'auto';
}

/** What the rush decider needs: the schedule as the capacity rules fold it, and the switch. */
export interface RushState {
  schedule: ScheduleState;
  enabled: boolean;
}

export type RushError = { code: 'schedule_not_found' } | { code: 'schedule_closed' };
export type RushDecision = { ok: true; events: RushEvent[] } | { ok: false; error: RushError };

export const initialRush = false;

/**
 * Switching to what it already is records nothing (the command is idempotent by state); a closed
 * schedule may still be switched off (a queue left over drains either way) but not on.
 */
export function decideRush(command: SetRushMode, state: RushState): RushDecision {
  const { schedule } = state;
  if (schedule.status === 'initial') return { ok: false, error: { code: 'schedule_not_found' } };
  if (command.enabled === state.enabled) return { ok: true, events: [] };
  if (command.enabled && schedule.status === 'closed')
    return { ok: false, error: { code: 'schedule_closed' } };
  return {
    ok: true,
    events: [
      {
        type: 'RushModeChanged',
        data: {
          scheduleId: schedule.scheduleId,
          enabled: command.enabled,
          changedBy: command.actor,
          changedAt: command.now.toISOString(),
          ...(command.reason ? { reason: command.reason } : {}),
        },
      },
    ],
  };
}

export const evolveRush = (enabled: boolean, event: RushEvent): boolean =>
  event.type === 'RushModeChanged' ? event.data.enabled : enabled;

export const foldRush = (events: Iterable<RushEvent>, from = initialRush): boolean => {
  let enabled = from;
  for (const e of events) enabled = evolveRush(enabled, e);
  return enabled;
};
