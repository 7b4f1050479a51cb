/**
 * Routes as inbound resources (`METHOD /path/template`) and refusals as the error catalogue's
 * problems: 429 `flow_limited` (a rule of the route) or 503 `system_overloaded` (system
 * protection), both with Retry-After. The gate in front of the app (gate.ts) uses both.
 */
import type { ErrorCode } from '../http/errors.ts';
import type { Blocked } from './flow-control.ts';

export interface InboundRoute {
  method: string;
  /** Express syntax: `/v1/appointments/:appointmentId/cancel`. */
  path: string;
  /**
   * Held while an outcome is awaited: entered outside system protection. Dozens of idle long polls
   * in flight made BBR (in flight ≤ best throughput × best RT) shed every other request.
   */
  longPoll?: boolean;
}

interface CompiledRoute {
  resource: string;
  route: string;
  method: string;
  segments: readonly string[];
  longPoll: boolean;
}

/** Resource of requests no route matches (unknown paths still pass system protection). */
export const UNMATCHED_RESOURCE = 'unmatched';

export const resourceName = (route: InboundRoute): string => `${route.method.toUpperCase()} ${route.path}`;

/** Matches a request to its route template without Express's router (which runs later, after auth). */
export function routeMatcher(routes: readonly InboundRoute[]) {
  const compiled: CompiledRoute[] = routes.map((r) => ({
    resource: resourceName(r),
    route: r.path,
    method: r.method.toUpperCase(),
    segments: r.path.split('/').filter(Boolean),
    longPoll: r.longPoll === true,
  }));
  return (
    method: string,
    path: string,
  ): { resource: string; route: string; params: Record<string, string>; longPoll: boolean } | undefined => {
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
      if (ok) return { resource: route.resource, route: route.route, params, longPoll: route.longPoll };
    }
    return undefined;
  };
}

/** Retry-After in whole seconds, at least one. */
export const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

/**
 * The problem a refusal is answered with: a plain object, not an AppError, because constructing an
 * Error captures a stack trace, which was a tenth of a refusal's CPU (the gate renders it with the
 * error catalogue's toProblem all the same).
 */
export interface Refusal {
  code: Extract<ErrorCode, 'flow_limited' | 'system_overloaded'>;
  detail: string;
  invalidParams: undefined;
  headers: Record<string, string>;
}

export function refusal(blocked: Blocked): Refusal {
  const retryAfter = String(seconds(blocked.retryAfterMs));
  if (blocked.system) {
    return {
      code: 'system_overloaded',
      detail: `The server is shedding load (${blocked.rule}); retry later`,
      invalidParams: undefined,
      headers: { 'Retry-After': retryAfter },
    };
  }
  return {
    code: 'flow_limited',
    detail: `Too many requests to ${blocked.resource} (${blocked.rule} rule); retry later`,
    invalidParams: undefined,
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
  };
}
