/**
 * Switching a schedule's rush mode (docs/adr/0015), shared by the route (a hospital or an admin,
 * rush-route.ts) and the automatic switch on a booking rate (rush-auto-switch.ts): load the
 * stream, decide with the pure `decideRush`, and in one transaction append RushModeChanged
 * (expecting the revision decided on), write the `rush_schedules` row the bookings read, and
 * whatever the caller adds (the route completes its Idempotency-Key there).
 */
import {
  decideRush,
  foldRush,
  isRushEventType,
  latestRushEventVersions,
  type RushError,
  type RushEvent,
  type SetRushMode,
} from '../domain/rush.ts';
import { scheduleStreamName, type ScheduleState } from '../domain/schedule.ts';
import { SCHEMA_VERSION_KEY } from '../domain/event-versions.ts';
import type { EventMetadata, EventStore } from '../platform/event-store/event-store.ts';
import { WrongExpectedRevisionError } from '../platform/event-store/event-store.ts';
import type { StoredOutcome } from '../platform/http/idempotency.ts';
import type { PoolClient, Queryable } from '../platform/pg.ts';
import type { RushModes } from './rush-modes.ts';
import type { ScheduleStates } from './schedule-states.ts';

export interface RushSwitchDeps {
  store: Pick<EventStore<PoolClient>, 'transaction' | 'readStream'>;
  modes: RushModes;
  states: ScheduleStates;
}

export interface RushSwitchRequest {
  scheduleId: string;
  command: Omit<SetRushMode, 'type'>;
  metadata: EventMetadata;
  /** A refusal before deciding (tenancy): returned as is. */
  deny?: (state: ScheduleState) => StoredOutcome | undefined;
  /** More statements of the switch's transaction (run when an event is appended). */
  inTransaction?: (db: Queryable) => Promise<void>;
}

export type RushSwitchResult =
  { ok: true; changed: boolean } | { ok: false; denied: StoredOutcome } | { ok: false; error: RushError };

const MAX_ATTEMPTS = 20;

export async function switchRush(deps: RushSwitchDeps, req: RushSwitchRequest): Promise<RushSwitchResult> {
  const streamId = scheduleStreamName(req.scheduleId);
  for (let attempt = 1; ; attempt++) {
    const loaded = await deps.states.load(deps.store, streamId);
    const recorded = await deps.store.readStream(streamId);
    const rushEvents = recorded.filter((e) => isRushEventType(e.type)) as unknown as RushEvent[];
    const denied = req.deny?.(loaded.state);
    if (denied) return { ok: false, denied };
    const decision = decideRush(
      { type: 'SetRushMode', ...req.command },
      { schedule: loaded.state, enabled: foldRush(rushEvents) },
    );
    if (!decision.ok) return decision;
    const state = loaded.state;
    if (decision.events.length === 0 || state.status === 'initial') return { ok: true, changed: false };
    try {
      await deps.store.transaction(async (tx) => {
        await tx.appendToStream(
          streamId,
          decision.events.map((e) => ({
            type: e.type,
            data: e.data,
            metadata: { ...req.metadata, [SCHEMA_VERSION_KEY]: latestRushEventVersions[e.type] },
          })),
          loaded.revision ?? 'no_stream',
        );
        await deps.modes.write(tx.handle, req.scheduleId, state.institutionId, req.command.enabled);
        await req.inTransaction?.(tx.handle);
      });
      deps.modes.forget(req.scheduleId);
      return { ok: true, changed: true };
    } catch (err) {
      deps.states.forget(streamId);
      if (!(err instanceof WrongExpectedRevisionError) || attempt >= MAX_ATTEMPTS) throw err;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * attempt));
    }
  }
}
