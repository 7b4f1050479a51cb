/**
 * The HTTP shape every command endpoint shares: authenticate → Idempotency-Key → validate →
 * authorise → claim the key (or replay its stored outcome) → run the command path
 * (command-path.ts: one transaction that also completes the key) → reply.
 */
import type { Request, RequestHandler, Response } from 'express';
import type { z } from 'zod';
import type { ScheduleState } from '../domain/schedule.ts';
import type { ScheduleStreamCommand } from '../domain/slot-state.ts';
import { currentContext, toTraceparent } from '../platform/context.ts';
import type { EventMetadata } from '../platform/event-store/event-store.ts';
import type { RouteSpec } from '../platform/http/api-spec.ts';
import {
  type PatientDigest,
  type Principal,
  principalOf,
  principalScope,
  type Role,
} from '../platform/http/auth.ts';
import { AppError } from '../platform/http/errors.ts';
import {
  parseIdempotencyKey,
  type PgIdempotencyStore,
  REPLAYED_HEADER,
  requestFingerprint,
  type StoredOutcome,
} from '../platform/http/idempotency.ts';
import { parseOrThrow } from '../platform/http/zod-problem.ts';
import { isDatabaseUnavailable } from '../platform/pg.ts';
import { commandAudit } from './command-audit.ts';
import type { ClaimedKey, Commands, Committed, Reply } from './command-path.ts';
import type { ProblemOutcome, ResponseOutcome } from './problems.ts';

/** Test seams around the commit: simulate crashes just before or just after it. */
export interface CommandHooks {
  /** Inside the command's transaction, after its writes, before the key is completed and committed. */
  beforeCommit?: (ctx: { req: Request }) => Promise<void> | void;
  /** After the transaction committed, before the response is written. */
  afterCommit?: (ctx: { req: Request; res: Response; outcome: ResponseOutcome }) => Promise<void> | void;
}

export interface CommandRouteDeps {
  commands: Commands;
  idempotency: Pick<PgIdempotencyStore, 'claim' | 'release' | 'keep'>;
  /** Names a patient's keys by digest, never by id (principalScope). */
  patients: PatientDigest;
  clock: () => Date;
  hooks: CommandHooks;
  onReplay?: () => void;
}

/** A validated request, ready to become a command. */
export interface CommandInput<B, P> {
  body: B;
  params: P;
  principal: Principal;
  now: Date;
}

/** The command to run on a stream and how to reply when it commits. */
export interface PreparedCommand {
  streamId: string;
  command: ScheduleStreamCommand;
  reply: (committed: Committed) => Reply;
  /**
   * Who the events record as the actor, when not the principal as is: a patient is recorded by
   * their opaque reference, never their id (docs/adr/0010).
   */
  actor?: { id: string; role: Role };
  /** Authorisation against the schedule's loaded state (tenancy.ts); a problem refuses the command. */
  authorize?: ((state: ScheduleState) => ProblemOutcome | undefined) | undefined;
}

/** A command's declaration (route-specs.ts): its schemas validate the request, its roles guard it. */
export type CommandRoute<BS extends z.ZodType, PS extends z.ZodType> = RouteSpec & {
  method: 'post';
  params: PS;
  body: BS;
  auth: { roles: readonly Role[] };
};

export interface CommandRouteSpec<BS extends z.ZodType, PS extends z.ZodType> {
  route: CommandRoute<BS, PS>;
  /** Request-level authorisation (e.g. a patient books only for themselves); throw AppError('forbidden'). */
  authorize?: (principal: Principal, body: z.infer<BS>) => void;
  /** The command, or a problem to store as the key's outcome without one (an unknown appointment). */
  prepare: (
    input: CommandInput<z.infer<BS>, z.infer<PS>>,
  ) => PreparedCommand | ProblemOutcome | Promise<PreparedCommand | ProblemOutcome>;
}

export function commandRoute<BS extends z.ZodType, PS extends z.ZodType>(
  deps: CommandRouteDeps,
  spec: CommandRouteSpec<BS, PS>,
): RequestHandler {
  return async (req, res) => {
    try {
      await handleCommand(deps, spec, req, res);
    } catch (err) {
      if (!isDatabaseUnavailable(err)) throw err;
      throw new AppError('dependency_unavailable', 'The database is unavailable; retry later', {
        cause: err,
        headers: { 'Retry-After': '2' },
      });
    }
  };
}

async function handleCommand<BS extends z.ZodType, PS extends z.ZodType>(
  deps: CommandRouteDeps,
  spec: CommandRouteSpec<BS, PS>,
  req: Request,
  res: Response,
): Promise<void> {
  const principal = principalOf(req);
  const idempotencyKey = parseIdempotencyKey(req);
  const rawBody: unknown = req.body ?? {};
  const params = parseOrThrow(spec.route.params, req.params);
  const body = parseOrThrow(spec.route.body, rawBody);
  spec.authorize?.(principal, body);

  const path = req.originalUrl.split('?')[0] ?? req.path;
  const fingerprint = requestFingerprint(req.method, path, rawBody);
  const scope = principalScope(principal, deps.patients);
  const claim = await deps.idempotency.claim(scope, idempotencyKey, fingerprint);
  if (claim.kind === 'completed') {
    deps.onReplay?.();
    send(res, claim.outcome, true);
    return;
  }

  const key: ClaimedKey = { principal: scope, key: idempotencyKey, token: claim.token };
  // Renewed while this request runs: the claim lapses (and a retry takes it over) only if we die.
  const letGo = deps.idempotency.keep(key.principal, key.key, key.token);
  let outcome: StoredOutcome;
  try {
    const prepared = await spec.prepare({ body, params, principal, now: deps.clock() });
    outcome = await run(deps, req, key, prepared);
  } catch (err) {
    // No outcome was committed: free the key so the client can retry now. (Had it been committed,
    // the key would no longer be in flight and this would delete nothing.)
    await deps.idempotency.release(key.principal, key.key, key.token).catch(() => undefined);
    throw err;
  } finally {
    letGo();
  }
  if (outcome.kind === 'response') await deps.hooks.afterCommit?.({ req, res, outcome });
  send(res, outcome, false);
}

async function run(
  deps: CommandRouteDeps,
  req: Request,
  key: ClaimedKey,
  prepared: PreparedCommand | ProblemOutcome,
): Promise<StoredOutcome> {
  if ('kind' in prepared) {
    await deps.commands.completeWithout(key, prepared);
    return prepared;
  }
  const { actor, ...command } = prepared;
  return deps.commands.execute({
    ...command,
    key,
    metadata: metadataOf(actor ?? actorOf(principalOf(req)), key.key),
    audit: commandAudit(principalOf(req)),
    beforeCommit: () => deps.hooks.beforeCommit?.({ req }),
  });
}

/**
 * The principal as an actor in events. A patient has no recordable id here: a route that lets
 * patients in names them by reference (`PreparedCommand.actor`); this never writes their id.
 */
const actorOf = (principal: Principal): { id: string; role: Role } =>
  principal.role === 'patient'
    ? { id: 'patient', role: 'patient' }
    : { id: principal.sub, role: principal.role };

/** What travels with the events: the trace the request belongs to, the key, the actor. */
export function metadataOf(actor: { id: string; role: Role }, idempotencyKey: string): EventMetadata {
  const ctx = currentContext();
  return {
    ...(ctx
      ? { correlationId: ctx.correlationId, causationId: ctx.spanId, traceparent: toTraceparent(ctx) }
      : {}),
    idempotencyKey,
    actor,
  };
}

/** Writes a stored outcome: a response as it was, a problem through the problem middleware. */
export function send(res: Response, outcome: StoredOutcome, replayed: boolean): void {
  if (outcome.kind === 'problem') {
    throw new AppError(outcome.code, outcome.detail, {
      ...(outcome.invalidParams ? { invalidParams: outcome.invalidParams } : {}),
      ...(replayed ? { headers: { [REPLAYED_HEADER]: 'true' } } : {}),
    });
  }
  res.status(outcome.status);
  for (const [name, value] of Object.entries(outcome.headers)) res.setHeader(name, value);
  if (replayed) res.setHeader(REPLAYED_HEADER, 'true');
  res.end(outcome.body);
}
