/**
 * One health model for every process (the APIs through Express, the workers through node:http):
 *
 *   /healthz  liveness: 503 only when the process should be restarted (a `liveness` check fails:
 *             a dead relay loop, a projector that stopped for good). A dependency outage alone
 *             answers 200 `{"status":"degraded","reasons":[…]}`, so a supervisor never restarts
 *             a healthy process in a loop while Kafka (or PostgreSQL, Redis, search) is down.
 *   /readyz   readiness: 503 with the reasons while starting, stopping, not live, or while a
 *             `readiness` check (a dependency) fails; 200 `{"status":"ready"}` otherwise.
 *
 * Both answer within one check timeout (default 500 ms): every check runs under its own
 * deadline, so a dependency that does not answer is reported, never awaited.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Router } from 'express';

/** Resolves (or returns) when healthy; throws or rejects with the reason otherwise. */
export type HealthCheck = () => unknown;
/** Kept for callers that name their dependency checks so. */
export type ReadinessCheck = HealthCheck;

export interface HealthOptions {
  /** Dependencies, e.g. `{ postgres: () => pool.query('SELECT 1') }`: failing → not ready, degraded. */
  checks: Record<string, HealthCheck>;
  /** The process's own loops: failing → not live (restart me). Should read in-memory state. */
  liveness?: Record<string, HealthCheck>;
  /** Once draining, readiness fails so load balancers stop sending traffic. */
  isShuttingDown?: () => boolean;
  /** While false, readiness fails with `starting` (liveness is unaffected). */
  isStarted?: () => boolean;
  /** Deadline of each check. Default 500 ms. */
  timeoutMs?: number;
  /** Extra fields of both bodies (e.g. lag samples and their age); must not block. */
  details?: () => Record<string, unknown>;
}

export type CheckStatus = 'ok' | 'failing';

export interface CheckResult {
  status: CheckStatus;
  /** Why it failed (error message or `timed out after N ms`). */
  reason?: string;
}

export interface HealthResponse {
  statusCode: 200 | 503;
  body: {
    status: 'ok' | 'degraded' | 'failing' | 'ready' | 'not_ready' | 'starting' | 'stopping';
    reasons?: string[];
    checks?: Record<string, CheckStatus>;
    [extra: string]: unknown;
  };
}

export const DEFAULT_CHECK_TIMEOUT_MS = 500;

const describe = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Runs one check under a deadline; never throws, never waits past `timeoutMs`. */
export async function runCheck(check: HealthCheck, timeoutMs: number): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<CheckResult>((resolve) => {
    timer = setTimeout(
      () => resolve({ status: 'failing', reason: `timed out after ${timeoutMs} ms` }),
      timeoutMs,
    );
  });
  const attempt = (async (): Promise<CheckResult> => {
    await check();
    return { status: 'ok' };
  })().catch((err: unknown) => ({ status: 'failing' as const, reason: describe(err) }));
  try {
    return await Promise.race([attempt, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs every check concurrently, each under its own deadline. */
export async function runChecks(
  checks: Record<string, HealthCheck>,
  timeoutMs = DEFAULT_CHECK_TIMEOUT_MS,
): Promise<Record<string, CheckResult>> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => [name, await runCheck(check, timeoutMs)] as const),
  );
  return Object.fromEntries(entries);
}

const reasonsOf = (results: Record<string, CheckResult>): string[] =>
  Object.entries(results)
    .filter(([, r]) => r.status !== 'ok')
    .map(([name, r]) => `${name}: ${r.reason ?? 'failing'}`);

const statusesOf = (results: Record<string, CheckResult>): Record<string, CheckStatus> =>
  Object.fromEntries(Object.entries(results).map(([name, r]) => [name, r.status]));

interface Evaluated {
  dead: string[];
  unavailable: string[];
  checks: Record<string, CheckStatus>;
}

async function evaluate(opts: HealthOptions): Promise<Evaluated> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS;
  const [live, deps] = await Promise.all([
    runChecks(opts.liveness ?? {}, timeoutMs),
    runChecks(opts.checks, timeoutMs),
  ]);
  return {
    dead: reasonsOf(live),
    unavailable: reasonsOf(deps),
    checks: { ...statusesOf(live), ...statusesOf(deps) },
  };
}

/** The `/healthz` answer: 503 only when a liveness check fails. */
export async function livenessResponse(opts: HealthOptions): Promise<HealthResponse> {
  const { dead, unavailable, checks } = await evaluate(opts);
  const details = opts.details?.() ?? {};
  if (dead.length) return { statusCode: 503, body: { status: 'failing', reasons: dead, checks, ...details } };
  if (opts.isShuttingDown?.()) return { statusCode: 200, body: { status: 'stopping', checks, ...details } };
  if (unavailable.length) {
    return { statusCode: 200, body: { status: 'degraded', reasons: unavailable, checks, ...details } };
  }
  return { statusCode: 200, body: { status: 'ok', checks, ...details } };
}

/** The `/readyz` answer: 200 only when started, not stopping, live, and every dependency answers. */
export async function readinessResponse(opts: HealthOptions): Promise<HealthResponse> {
  const { dead, unavailable, checks } = await evaluate(opts);
  const details = opts.details?.() ?? {};
  const reasons = [...dead, ...unavailable];
  if (opts.isShuttingDown?.()) reasons.unshift('shutting down');
  else if (opts.isStarted && !opts.isStarted()) reasons.unshift('starting');
  if (reasons.length) {
    const status = opts.isShuttingDown?.() ? 'stopping' : 'not_ready';
    return { statusCode: 503, body: { status, reasons, checks, ...details } };
  }
  return { statusCode: 200, body: { status: 'ready', checks, ...details } };
}

/**
 * What the public port shows of a health answer: its status code, status and reasons. The checks
 * and details (lag, components, stores) are for the admin port (admin.ts).
 */
export function publicHealth(answer: HealthResponse): HealthResponse {
  const { status, reasons } = answer.body;
  return { statusCode: answer.statusCode, body: reasons ? { status, reasons } : { status } };
}

/** The health answer for a path, or undefined when the path is not a health endpoint. */
export function healthResponseFor(
  path: string,
  opts: HealthOptions,
  view: { detailed?: boolean } = {},
): Promise<HealthResponse> | undefined {
  const answer =
    path === '/healthz' ? livenessResponse(opts) : path === '/readyz' ? readinessResponse(opts) : undefined;
  return view.detailed ? answer : answer?.then(publicHealth);
}

/** Writes a health answer (never cached: it is a point-in-time observation). */
export function sendHealth(res: ServerResponse, answer: HealthResponse): void {
  res.writeHead(answer.statusCode, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
  res.end(JSON.stringify(answer.body));
}

/** node:http handler part: answers /healthz and /readyz (public view), returns false for other paths. */
export function handleHealth(req: IncomingMessage, res: ServerResponse, opts: HealthOptions): boolean {
  const answer = healthResponseFor((req.url ?? '').split('?')[0] ?? '', opts);
  if (!answer) return false;
  answer.then(
    (a) => sendHealth(res, a),
    (err: unknown) =>
      sendHealth(res, { statusCode: 503, body: { status: 'failing', reasons: [describe(err)] } }),
  );
  return true;
}

/** `/healthz` and `/readyz` for the Express services (public view: status and reasons). */
export function healthRouter(opts: HealthOptions): Router {
  const router = Router();
  router.get(['/healthz', '/readyz'], (req, res) => {
    handleHealth(req, res, opts);
  });
  return router;
}
