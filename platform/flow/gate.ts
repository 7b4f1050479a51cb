/**
 * Inbound flow control in front of the web framework: every route is a resource
 * (`METHOD /path/template`), entered on the raw node:http request, so a refusal costs a route match,
 * a few counters and one small write — no Express routing, no middleware, no access-log line, no
 * body parsing, no authentication, and (with `refuseFirst`) no tracing. Refusals are the error
 * catalogue's problems: 429 `flow_limited` (a rule of the route) or 503 `system_overloaded`
 * (system protection, adaptive limits), both with Retry-After; they carry no X-Trace-Id.
 *
 * Measured before the gate existed (bench/results/overload.md, 2026-12-01): the command API refused
 * about 7,400 bookings/s on one core through Express against 50,700/s for a bare node:http server
 * answering the same problem, so at 4× the maximum rate refusing alone took half a core.
 */
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import { parse as parseQuery, type ParsedUrlQuery } from 'node:querystring';
import proxyaddr from 'proxy-addr';
import { PROBLEM_LIMITS, toProblem, truncate } from '../http/errors.ts';
import { httpDurationHistogram, type Registry } from '../http/metrics.ts';
import { answerBeforeInstrumentation } from '../http/before-instrumentation.ts';
import { isServicePath, MAX_QUERY_PARAMS, TRUSTED_PROXIES, type ServiceApp } from '../http/service-app.ts';
import type { ParamLookup } from './controllers.ts';
import type { Blocked, Entry, FlowControl } from './flow-control.ts';
import { refusal, routeMatcher, seconds, UNMATCHED_RESOURCE, type InboundRoute } from './http.ts';

export interface GateOptions {
  flow: FlowControl;
  routes: readonly InboundRoute[];
  /** Paths outside flow control (health, documentation): they go straight to the app. */
  exempt?: (path: string) => boolean;
  /** Peers whose X-Forwarded-For is believed for `ip` parameters (proxy-addr's names, as Express's `trust proxy`). */
  trustProxy: string;
  /** Query parameters parsed for `query` parameters (as the app's query parser). */
  maxQueryParams: number;
  problemBase?: string;
  /** Refusals are observed in the request-duration histogram, like every answer. */
  registry?: Registry;
  /** During shutdown a refusal also asks the client to close its connection. */
  closing?: () => boolean;
}

export interface InboundGate {
  /**
   * Enters the request's resource at once: true when it was refused (and answered here). An
   * admitted request remembers its entry for `wrap`.
   */
  refused(req: IncomingMessage, res: ServerResponse): boolean;
  /** The app behind the gate: a request not entered yet is entered; a paced wait or a cluster budget is awaited. */
  wrap(app: RequestListener): RequestListener;
}

const EXEMPT = Symbol('exempt');

export function inboundGate(opts: GateOptions): InboundGate {
  const match = routeMatcher(opts.routes);
  const trust = proxyaddr.compile(opts.trustProxy.split(',').map((s) => s.trim()));
  const duration = opts.registry ? httpDurationHistogram(opts.registry) : undefined;
  const entries = new WeakMap<IncomingMessage, { entry: Entry; route: string } | typeof EXEMPT>();

  const rendered = renderedRefusals(opts.problemBase);
  const refuse = (req: IncomingMessage, res: ServerResponse, blocked: Blocked, route: string) => {
    const { status, headers, open } = rendered(blocked);
    const url = req.url;
    const body = url
      ? `${open},"instance":${JSON.stringify(truncate(url, PROBLEM_LIMITS.instance))}}`
      : `${open}}`;
    res.writeHead(status, [
      ...headers,
      'Content-Length',
      String(Buffer.byteLength(body)),
      ...(opts.closing?.() ? ['Connection', 'close'] : []),
    ]);
    res.end(body);
    duration?.observe({ method: req.method ?? 'GET', route, status_code: String(status) }, 0);
  };

  const refused = (req: IncomingMessage, res: ServerResponse): boolean => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (opts.exempt?.(path)) {
      entries.set(req, EXEMPT);
      return false;
    }
    const matched = match(req.method ?? 'GET', path);
    const entry = opts.flow.entry(matched?.resource ?? UNMATCHED_RESOURCE, {
      inbound: matched?.longPoll !== true,
      params: paramsOf(req, matched?.params ?? {}, q < 0 ? '' : url.slice(q + 1), trust, opts.maxQueryParams),
    });
    const route = matched?.route ?? 'unmatched';
    if (!entry.pass) {
      refuse(req, res, entry, route);
      return true;
    }
    // Released when the response closes, however it ends (a 5xx counts as an error).
    res.once('close', () => entry.release({ error: res.statusCode >= 500 }));
    entries.set(req, { entry, route });
    return false;
  };

  const wrap =
    (app: RequestListener): RequestListener =>
    (req, res) => {
      if (!entries.has(req) && refused(req, res)) return;
      const admitted = entries.get(req);
      if (admitted === EXEMPT || admitted === undefined) {
        app(req, res);
        return;
      }
      const { entry, route } = admitted;
      const proceed = () => {
        if (entry.waitMs === 0) {
          app(req, res);
          return;
        }
        // Paced queueing: a client that went away while queued is not served (released on close).
        setTimeout(() => {
          if (!res.destroyed && !res.writableEnded) app(req, res);
        }, entry.waitMs);
      };
      const budgets = () => {
        if (!entry.cluster) {
          proceed();
          return;
        }
        // Cluster-wide budgets: one Redis round trip (the local share when Redis does not answer;
        // ClusterBudgets falls back itself, so a rejection here is unexpected: the local rules admitted it).
        entry.cluster.then(
          (blocked) => (blocked ? refuse(req, res, blocked, route) : proceed()),
          () => proceed(),
        );
      };
      if (!entry.queued) {
        budgets();
        return;
      }
      // An adaptive rule's queue: admitted when one in flight finishes, refused when the wait runs out.
      const queued = entry.queued;
      const timer = setTimeout(() => queued.expire(), queued.maxWaitMs + 1);
      void queued.admitted.then((blocked) => {
        clearTimeout(timer);
        if (blocked) refuse(req, res, blocked, route);
        else budgets();
      });
    };
  return { refused, wrap };
}

/**
 * Refusals rendered once per resource, rule, retry delay and limit (a handful of each), as the error
 * catalogue renders them (toProblem): the status, the headers as a flat list (node:http takes it
 * without walking an object's keys) and the problem's JSON without its closing brace, to which
 * each refusal adds its own `instance`. Measured in-process on 64 connections: a refusal cost the
 * server 93–113 µs of CPU when built as an AppError (the stack it captured was a tenth of it) and
 * rendered per request, 54–57 µs rendered here, against 35–55 µs for a bare node:http server writing a fixed problem.
 */
function renderedRefusals(problemBase: string | undefined) {
  const cache = new Map<string, { status: number; headers: string[]; open: string }>();
  return (blocked: Blocked) => {
    // Retry-After is in whole seconds: the key holds what the answer says, not the exact delay.
    const key = `${blocked.system}|${blocked.rule}|${blocked.resource}|${seconds(blocked.retryAfterMs)}|${blocked.limit}`;
    let hit = cache.get(key);
    if (hit === undefined) {
      const err = refusal(blocked);
      const problem = toProblem(err, undefined, undefined, problemBase);
      const headers = [
        ...Object.entries(err.headers).flat(),
        'Content-Type',
        'application/problem+json; charset=utf-8',
      ];
      hit = { status: problem.status, headers, open: JSON.stringify(problem).slice(0, -1) };
      // Bounded all the same: a rule's limit can change with every rule replacement.
      if (cache.size >= 512) cache.clear();
      cache.set(key, hit);
    }
    return hit;
  };
}

/** The gate of a service app: its proxies, query parser, service paths, metrics and shutdown. */
export function serviceGate(
  service: ServiceApp,
  opts: { flow: FlowControl; routes: readonly InboundRoute[]; registry: Registry; problemBase?: string },
): InboundGate {
  return inboundGate({
    ...opts,
    exempt: isServicePath,
    trustProxy: TRUSTED_PROXIES,
    maxQueryParams: MAX_QUERY_PARAMS,
    closing: service.isShuttingDown,
  });
}

/**
 * Decides admission as `server` emits each request, ahead of the tracing instrumentation, so a
 * refused request costs no span and no context; an admitted one is emitted as before.
 */
export function refuseFirst(server: Server, gate: InboundGate): void {
  answerBeforeInstrumentation(server, (req, res) => gate.refused(req, res));
}

/** A request's values for hot-parameter rules, read only when a rule asks. */
function paramsOf(
  req: IncomingMessage,
  pathParams: Record<string, string>,
  search: string,
  trust: ReturnType<typeof proxyaddr.compile>,
  maxKeys: number,
): ParamLookup {
  let query: ParsedUrlQuery | undefined;
  return (source) => {
    switch (source.from) {
      case 'ip':
        return proxyaddr(req, trust);
      case 'path':
        return pathParams[source.name];
      case 'query': {
        query ??= parseQuery(search, '&', '=', { maxKeys });
        const v = query[source.name];
        return Array.isArray(v) ? v[0] : v;
      }
      case 'header': {
        const v = req.headers[source.name];
        return Array.isArray(v) ? v[0] : v;
      }
    }
  };
}
