/**
 * POST /v1/schedules/{id}/rush `{"enabled": bool}` (docs/adr/0015): a hospital (of the schedule's
 * institution) or an admin switches the schedule's bookings to the queue and back. Idempotent
 * twice over: by its Idempotency-Key, and by state (switching to what it is records nothing).
 * In one transaction: the RushModeChanged append (expecting the revision decided on), the
 * `rush_schedules` row the bookings look at, and the key's outcome.
 */
import type { RequestHandler } from 'express';
import {
  decideRush,
  foldRush,
  isRushEventType,
  latestRushEventVersions,
  type RushEvent,
} from '../domain/rush.ts';
import { scheduleStreamName } from '../domain/schedule.ts';
import { SCHEMA_VERSION_KEY } from '../domain/event-versions.ts';
import type { EventStore } from '../platform/event-store/event-store.ts';
import { WrongExpectedRevisionError } from '../platform/event-store/event-store.ts';
import { principalOf, principalScope } from '../platform/http/auth.ts';
import {
  parseIdempotencyKey,
  type PgIdempotencyStore,
  requestFingerprint,
  type StoredOutcome,
} from '../platform/http/idempotency.ts';
import { parseOrThrow } from '../platform/http/zod-problem.ts';
import type { PoolClient } from '../platform/pg.ts';
import { metadataOf, send } from './command-route.ts';
import { problemFor } from './problems.ts';
import { setRushRoute } from './route-specs.ts';
import type { RushModes } from './rush-modes.ts';
import { ScheduleStates } from './schedule-states.ts';
import { ownSchedulesOnly } from './tenancy.ts';

export interface RushRouteDeps {
  store: Pick<EventStore<PoolClient>, 'transaction' | 'readStream'>;
  idempotency: Pick<PgIdempotencyStore, 'claim' | 'release' | 'keep' | 'complete' | 'completeAlone'>;
  modes: RushModes;
  clock: () => Date;
}

const reply = (scheduleId: string, enabled: boolean): StoredOutcome => ({
  kind: 'response',
  status: 200,
  headers: { 'Content-Type': 'application/json; charset=utf-8' },
  body: JSON.stringify({ scheduleId, rush: enabled }),
});

export function setRushMode(deps: RushRouteDeps): RequestHandler {
  const states = new ScheduleStates(10_000);
  return async (req, res) => {
    const principal = principalOf(req);
    const key = parseIdempotencyKey(req);
    const rawBody: unknown = req.body ?? {};
    const { scheduleId } = parseOrThrow(setRushRoute.params, req.params);
    const { enabled } = parseOrThrow(setRushRoute.body, rawBody);
    const scope = principalScope(principal);
    const fingerprint = requestFingerprint(req.method, req.originalUrl.split('?')[0] ?? req.path, rawBody);
    const claim = await deps.idempotency.claim(scope, key, fingerprint);
    if (claim.kind === 'completed') return send(res, claim.outcome, true);
    const { token } = claim;
    const letGo = deps.idempotency.keep(scope, key, token);
    try {
      const outcome = await switchMode(scheduleId, enabled);
      send(res, outcome, false);
    } catch (err) {
      await deps.idempotency.release(scope, key, token).catch(() => undefined);
      throw err;
    } finally {
      letGo();
    }

    async function switchMode(id: string, on: boolean): Promise<StoredOutcome> {
      const streamId = scheduleStreamName(id);
      for (let attempt = 1; ; attempt++) {
        const loaded = await states.load(deps.store, streamId);
        const recorded = await deps.store.readStream(streamId);
        const rushEvents = recorded.filter((e) => isRushEventType(e.type)) as unknown as RushEvent[];
        const denied = ownSchedulesOnly(principal)?.(loaded.state);
        const decision = denied
          ? ({ ok: false, outcome: denied } as const)
          : decideRush(
              {
                type: 'SetRushMode',
                enabled: on,
                actor: { id: principal.sub, role: principal.role },
                now: deps.clock(),
              },
              { schedule: loaded.state, enabled: foldRush(rushEvents) },
            );
        if (!decision.ok) {
          const outcome = 'outcome' in decision ? decision.outcome : problemFor(decision.error);
          await deps.idempotency.completeAlone(scope, key, token, outcome);
          return outcome;
        }
        const outcome = reply(id, on);
        const state = loaded.state;
        if (decision.events.length === 0 || state.status === 'initial') {
          await deps.idempotency.completeAlone(scope, key, token, outcome);
          return outcome;
        }
        try {
          await deps.store.transaction(async (tx) => {
            await tx.appendToStream(
              streamId,
              decision.events.map((e) => ({
                type: e.type,
                data: e.data,
                metadata: {
                  ...metadataOf({ id: principal.sub, role: principal.role }, key),
                  [SCHEMA_VERSION_KEY]: latestRushEventVersions[e.type],
                },
              })),
              loaded.revision ?? 'no_stream',
            );
            await deps.modes.write(tx.handle, id, state.institutionId, on);
            await deps.idempotency.complete(tx.handle, scope, key, token, outcome);
          });
          deps.modes.forget(id);
          return outcome;
        } catch (err) {
          states.forget(streamId);
          if (!(err instanceof WrongExpectedRevisionError) || attempt >= 20) throw err;
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * attempt));
        }
      }
    }
  };
}
