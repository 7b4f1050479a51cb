/**
 * POST /v1/schedules/{id}/rush `{"enabled": bool}` (docs/adr/0015): a hospital (of the schedule's
 * institution) or an admin switches the schedule's bookings to the queue and back. Idempotent
 * twice over: by its Idempotency-Key, and by state (switching to what it is records nothing).
 * In one transaction: the RushModeChanged append (expecting the revision decided on), the
 * `rush_schedules` row the bookings look at, and the key's outcome.
 */
import type { RequestHandler } from 'express';
import type { EventStore } from '../platform/event-store/event-store.ts';
import { type PatientDigest, principalOf, principalScope } from '../platform/http/auth.ts';
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
import { switchRush } from './rush-switch.ts';
import { ownSchedulesOnly } from './tenancy.ts';

export interface RushRouteDeps {
  store: Pick<EventStore<PoolClient>, 'transaction' | 'readStream'>;
  idempotency: Pick<PgIdempotencyStore, 'claim' | 'release' | 'keep' | 'complete' | 'completeAlone'>;
  modes: RushModes;
  /** For principalScope (staff only reach this route, but a scope is built one way everywhere). */
  patients: PatientDigest;
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
    const scope = principalScope(principal, deps.patients);
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
      const outcome = reply(id, on);
      const deny = ownSchedulesOnly(principal);
      const result = await switchRush(
        { store: deps.store, modes: deps.modes, states },
        {
          scheduleId: id,
          command: { enabled: on, actor: { id: principal.sub, role: principal.role }, now: deps.clock() },
          metadata: metadataOf({ id: principal.sub, role: principal.role }, key),
          ...(deny ? { deny } : {}),
          inTransaction: (db) => deps.idempotency.complete(db, scope, key, token, outcome),
        },
      );
      if (result.ok && result.changed) return outcome;
      const final = result.ok ? outcome : 'denied' in result ? result.denied : problemFor(result.error);
      await deps.idempotency.completeAlone(scope, key, token, final);
      return final;
    }
  };
}
