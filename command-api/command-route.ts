/**
 * The shape every command endpoint shares: authenticate → Idempotency-Key → validate → authorise
 * → claim the key → run the command (which stores its response in its own transaction) → reply.
 */
import type { Request, RequestHandler, Response } from 'express';
import type { z } from 'zod';
import { currentContext, toTraceparent } from '../platform/context.ts';
import type { EventMetadata } from '../platform/event-store/event-store.ts';
import { type Principal, principalOf } from '../platform/http/auth.ts';
import { AppError } from '../platform/http/errors.ts';
import {
  type AlongsideStatement,
  parseIdempotencyKey,
  type PgIdempotencyStore,
  REPLAYED_HEADER,
  requestFingerprint,
  type StoredOutcome,
} from '../platform/http/idempotency.ts';
import { parseOrThrow } from '../platform/http/zod-problem.ts';
import { isDatabaseUnavailable, type Pool, type PoolClient } from '../platform/pg.ts';

export type ResponseOutcome = Extract<StoredOutcome, { kind: 'response' }>;
export type ProblemOutcome = Extract<StoredOutcome, { kind: 'problem' }>;

export const CHECKPOINT_HEADER = 'Booking-Checkpoint';

/** Test seams around the commit: simulate crashes just before or just after it. */
export interface CommandHooks {
  /** Inside the command's transaction, after the events were appended, before the key is completed and committed. */
  beforeCommit?: (ctx: { req: Request; client: PoolClient }) => Promise<void> | void;
  /** After the transaction committed, before the response is written. */
  afterCommit?: (ctx: { req: Request; res: Response; outcome: ResponseOutcome }) => Promise<void> | void;
}

export interface CommandContext<B, P> {
  req: Request;
  body: B;
  params: P;
  principal: Principal;
  idempotencyKey: string;
  now: Date;
  metadata: EventMetadata;
  /**
   * Builds the success response, runs the before-commit hook and stores the response as the
   * idempotency outcome with `client` (the command's transaction). Returns the outcome to reply with.
   * `alongside` is one more write of the transaction sent in the same statement as the key's
   * completion (saves a round trip).
   */
  respond: (
    client: PoolClient,
    status: number,
    body: unknown,
    headers?: Record<string, string | undefined>,
    alongside?: AlongsideStatement,
  ) => Promise<ResponseOutcome>;
}

export interface CommandRouteDeps {
  pool: Pool;
  idempotency: PgIdempotencyStore;
  clock: () => Date;
  hooks: CommandHooks;
  onReplay?: () => void;
}

export interface CommandRouteSpec<BS extends z.ZodType, PS extends z.ZodType> {
  body: BS;
  params: PS;
  /** Request-level authorisation (e.g. a patient books only for themselves); throw AppError('forbidden'). */
  authorize?: (principal: Principal, body: z.infer<BS>) => void;
  handle: (ctx: CommandContext<z.infer<BS>, z.infer<PS>>) => Promise<ResponseOutcome | ProblemOutcome>;
}

export const problem = (
  code: ProblemOutcome['code'],
  detail?: string,
  extra: Partial<ProblemOutcome> = {},
): ProblemOutcome => ({
  kind: 'problem',
  code,
  ...(detail ? { detail } : {}),
  ...extra,
});

const toAppError = (outcome: ProblemOutcome, headers?: Record<string, string>): AppError =>
  new AppError(outcome.code, outcome.detail, {
    ...(outcome.invalidParams ? { invalidParams: outcome.invalidParams } : {}),
    ...(headers ? { headers } : {}),
  });

function send(res: Response, outcome: ResponseOutcome, replayed: boolean): void {
  res.status(outcome.status);
  for (const [name, value] of Object.entries(outcome.headers)) res.setHeader(name, value);
  if (replayed) res.setHeader(REPLAYED_HEADER, 'true');
  res.end(outcome.body);
}

export function commandRoute<BS extends z.ZodType, PS extends z.ZodType>(
  deps: CommandRouteDeps,
  spec: CommandRouteSpec<BS, PS>,
): RequestHandler {
  const handle = handleCommand(deps, spec);
  return async (req, res) => {
    try {
      await handle(req, res);
    } catch (err) {
      if (isDatabaseUnavailable(err)) {
        throw new AppError('dependency_unavailable', 'The database is unavailable; retry later', {
          cause: err,
          headers: { 'Retry-After': '2' },
        });
      }
      throw err;
    }
  };
}

function handleCommand<BS extends z.ZodType, PS extends z.ZodType>(
  deps: CommandRouteDeps,
  spec: CommandRouteSpec<BS, PS>,
): (req: Request, res: Response) => Promise<void> {
  return async (req, res) => {
    const principal = principalOf(req);
    const idempotencyKey = parseIdempotencyKey(req);
    const rawBody: unknown = req.body ?? {};
    const params = parseOrThrow(spec.params, req.params);
    const body = parseOrThrow(spec.body, rawBody);
    spec.authorize?.(principal, body);

    const path = req.originalUrl.split('?')[0] ?? req.path;
    const claim = await deps.idempotency.claim(
      principal.sub,
      idempotencyKey,
      requestFingerprint(req.method, path, rawBody),
    );
    if (claim.kind === 'completed') {
      deps.onReplay?.();
      if (claim.outcome.kind === 'problem') throw toAppError(claim.outcome, { [REPLAYED_HEADER]: 'true' });
      send(res, claim.outcome, true);
      return;
    }

    const { token } = claim;
    const ctx = currentContext();
    const metadata: EventMetadata = {
      ...(ctx
        ? { correlationId: ctx.correlationId, causationId: ctx.spanId, traceparent: toTraceparent(ctx) }
        : {}),
      idempotencyKey,
      actor: { id: principal.sub, role: principal.role },
    };
    let outcome: ResponseOutcome | ProblemOutcome;
    try {
      outcome = await spec.handle({
        req,
        body,
        params,
        principal,
        idempotencyKey,
        now: deps.clock(),
        metadata,
        respond: async (client, status, responseBody, headers = {}, alongside) => {
          const stored: ResponseOutcome = {
            kind: 'response',
            status,
            headers: {
              'Content-Type': 'application/json; charset=utf-8',
              ...Object.fromEntries(
                Object.entries(headers).filter((entry): entry is [string, string] => entry[1] !== undefined),
              ),
            },
            body: JSON.stringify(responseBody),
          };
          await deps.hooks.beforeCommit?.({ req, client });
          // Last statement before COMMIT: the key row stays locked for as short a time as possible
          // (a concurrent retry of the same key waits on that lock, then replays).
          await deps.idempotency.complete(client, principal.sub, idempotencyKey, token, stored, alongside);
          return stored;
        },
      });
      if (outcome.kind === 'problem') {
        // A business-rule rejection is an outcome too: a retry must get the same answer.
        // (One statement, so no explicit transaction is needed.)
        await deps.idempotency.complete(deps.pool, principal.sub, idempotencyKey, token, outcome);
      }
    } catch (err) {
      // No outcome was committed: free the key so the client can retry now. (Had the outcome been
      // committed, the key would no longer be in flight and this would delete nothing.)
      await deps.idempotency.release(principal.sub, idempotencyKey, token).catch(() => undefined);
      throw err;
    }

    if (outcome.kind === 'problem') throw toAppError(outcome);
    await deps.hooks.afterCommit?.({ req, res, outcome });
    send(res, outcome, false);
  };
}
