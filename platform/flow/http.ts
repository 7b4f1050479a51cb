/**
 * Inbound flow control for an Express app: every route is a resource (`METHOD /path/template`),
 * entered before authentication and body parsing, so a shed request costs a route match and a
 * few counters. Refusals go through the error catalogue: 429 `flow_limited` (a rule of the route)
 * or 503 `system_overloaded` (system protection), both with Retry-After.
 */
import type { Request, RequestHandler } from 'express';
import { AppError } from '../http/errors.ts';
import type { Blocked, FlowControl } from './flow-control.ts';
import type { ParamLookup } from './controllers.ts';

export interface InboundRoute {
  method: string;
  /** Express syntax: `/v1/appointments/:appointmentId/cancel`. */
  path: string;
}

interface CompiledRoute {
  resource: string;
  method: string;
  segments: readonly string[];
}

/** Resource of requests no route matches (unknown paths still pass system protection). */
export const UNMATCHED_RESOURCE = 'unmatched';

export const resourceName = (route: InboundRoute): string => `${route.method.toUpperCase()} ${route.path}`;

/** Matches a request to its route template without Express's router (which runs later, after auth). */
export function routeMatcher(routes: readonly InboundRoute[]) {
  const compiled: CompiledRoute[] = routes.map((r) => ({
    resource: resourceName(r),
    method: r.method.toUpperCase(),
    segments: r.path.split('/').filter(Boolean),
  }));
  return (method: string, path: string): { resource: string; params: Record<string, string> } | undefined => {
    // Express answers HEAD with the GET route.
    const m = method === 'HEAD' ? 'GET' : method;
    const parts = path.split('/').filter(Boolean);
    for (const route of compiled) {
      if (route.method !== m || route.segments.length !== parts.length) continue;
      const params: Record<string, string> = {};
      const ok = route.segments.every((seg, i) => {
        if (seg.startsWith(':')) {
          params[seg.slice(1)] = parts[i]!;
          return true;
        }
        return seg === parts[i];
      });
      if (ok) return { resource: route.resource, params };
    }
    return undefined;
  };
}

function paramsOf(req: Request, pathParams: Record<string, string>): ParamLookup {
  return (source) => {
    switch (source.from) {
      case 'ip':
        return req.ip ?? req.socket.remoteAddress;
      case 'path':
        return pathParams[source.name];
      case 'query': {
        const v = (req.query as Record<string, unknown>)[source.name];
        const first = Array.isArray(v) ? (v[0] as unknown) : v;
        return typeof first === 'string' ? first : undefined;
      }
      case 'header': {
        const v = req.headers[source.name];
        return Array.isArray(v) ? v[0] : v;
      }
    }
  };
}

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

/** The problem a refusal is answered with. */
export function refusal(blocked: Blocked): AppError {
  const retryAfter = String(seconds(blocked.retryAfterMs));
  if (blocked.system) {
    return new AppError('system_overloaded', `The server is shedding load (${blocked.rule}); retry later`, {
      headers: { 'Retry-After': retryAfter },
    });
  }
  return new AppError(
    'flow_limited',
    `Too many requests to ${blocked.resource} (${blocked.rule} rule); retry later`,
    {
      headers: {
        'Retry-After': retryAfter,
        ...(blocked.limit === undefined
          ? {}
          : {
              'RateLimit-Limit': String(blocked.limit),
              'RateLimit-Remaining': '0',
              'RateLimit-Reset': retryAfter,
            }),
      },
    },
  );
}

/**
 * Mount with `app.use` after the health and documentation routes and before anything that parses
 * or authenticates: it enters the request's resource (inbound: system protection first), refuses
 * or waits (paced queueing) and releases the entry when the response closes (a 5xx counts as an error).
 */
export function flowMiddleware(opts: { flow: FlowControl; routes: readonly InboundRoute[] }): RequestHandler {
  const match = routeMatcher(opts.routes);
  return (req, res, next) => {
    const matched = match(req.method, req.path);
    const entry = opts.flow.entry(matched?.resource ?? UNMATCHED_RESOURCE, {
      inbound: true,
      params: paramsOf(req, matched?.params ?? {}),
    });
    if (!entry.pass) {
      next(refusal(entry));
      return;
    }
    const proceed = () => {
      res.once('close', () => entry.release({ error: res.statusCode >= 500 }));
      if (entry.waitMs === 0) {
        next();
        return;
      }
      // A client that went away while queued is not served (its entry was released on close).
      setTimeout(() => {
        if (!res.destroyed && !res.writableEnded) next();
      }, entry.waitMs);
    };
    if (!entry.cluster) {
      proceed();
      return;
    }
    // Cluster-wide budgets: one Redis round trip (the local share when Redis does not answer).
    entry.cluster.then(
      (blocked) => (blocked ? next(refusal(blocked)) : proceed()),
      (err: unknown) => next(err),
    );
  };
}
