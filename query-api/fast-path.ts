import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import { LRUCache } from 'lru-cache';
import type { Counter } from 'prom-client';
import { traceNoRequestsWhere } from '../platform/context.ts';
import { answerBeforeInstrumentation } from '../platform/http/before-instrumentation.ts';
import type { FlowControl } from '../platform/flow/flow-control.ts';
import { httpDurationHistogram, type Registry } from '../platform/http/metrics.ts';
import type { Logger } from '../platform/logger.ts';
import { sendCached } from './cache/send-cached.ts';
import { normaliseUrl } from './cache/url-key.ts';
import type { CachedResponse } from './cache/cached-response.ts';
import type { TwoLevelCache } from './cache/two-level-cache.ts';

/**
 * Remembers which request URLs (in canonical form, cache/url-key.ts) the Express routes validated
 * and cached, and under which cache key and route. Only URLs whose canonical form went through
 * validation once are ever served fast: the same parameters in another order, or with tracking
 * tags, validate the same way.
 */
export class FastRoutes {
  private readonly byUrl: LRUCache<string, { key: string; route: string }>;

  constructor(max = 50_000) {
    this.byUrl = new LRUCache({ max });
  }

  /**
   * `untilMs`: when the URL stops naming this key (one whose key holds today's date names the
   * next day's key from midnight on): from then on the route builds the key again.
   */
  remember(url: string, key: string, route: string, untilMs?: number): void {
    const ttl = untilMs === undefined ? 0 : untilMs - Date.now();
    if (untilMs !== undefined && ttl <= 0) return;
    this.byUrl.set(normaliseUrl(url), { key, route }, ttl > 0 ? { ttl } : {});
  }

  /**
   * The URL as sent first (one map read: what nearly every client sends again and again), then
   * its canonical form; a canonical form that differs replaces `req.url`, so the Express routes
   * see the same URL (no tracking tags to refuse) and remember it under the same form.
   */
  lookup(req: IncomingMessage): { key: string; route: string } | undefined {
    const url = req.url ?? '';
    const known = this.byUrl.get(url);
    if (known || !url.includes('?')) return known;
    const canonical = normaliseUrl(url);
    if (canonical === url) return undefined;
    req.url = canonical;
    return this.byUrl.get(canonical);
  }
}

/**
 * The hot path of the read-heavy front door: a GET whose bytes sit in the in-process cache, fresh
 * or past their TTL but still valid (then refreshed behind the answer, as the Express route
 * would), is answered straight from node:http, before Express routing, with the same headers,
 * ETag/304 handling, compression and metrics as the Express route. Anything else (a miss, an
 * invalidated entry, a new URL, Redis down) goes to Express unchanged.
 *
 * It stays outside tracing: the same test tells the http instrumentation to make no span for a
 * request this path will answer (platform/telemetry.ts), so a cache hit carries no `traceparent`
 * or `X-Trace-Id` and costs no span. A server started with `answerHitsFirst` answers hits before
 * the instrumentation sees the request at all (`answerHit`).
 */
export type FastPathHandler = RequestListener & {
  /** Answers the request if it is a cache hit the fast path serves at once; false otherwise. */
  answerHit(req: IncomingMessage, res: ServerResponse): boolean;
};

export function withFastPath(
  app: RequestListener,
  deps: {
    cache: TwoLevelCache;
    routes: FastRoutes;
    registry: Registry;
    outcomes: Counter<'route' | 'outcome'>;
    logger: Logger;
    redisReady: () => boolean;
    /** Set during shutdown: everything goes through Express, which closes connections. */
    disabled: () => boolean;
    /** Cache hits are counted as passes of their route's resource, never checked (one increment). */
    flow?: FlowControl;
  },
): FastPathHandler {
  const duration = httpDurationHistogram(deps.registry);
  // One label set per route and status, not one object per request.
  const labels = new Map<string, { method: 'GET'; route: string; status_code: string }>();
  const labelsOf = (route: string, status: number) => {
    const id = `${status} ${route}`;
    let set = labels.get(id);
    if (!set) labels.set(id, (set = { method: 'GET', route, status_code: String(status) }));
    return set;
  };
  const debug = deps.logger.isLevelEnabled('debug');
  const fastPasses = new Map<string, () => void>();
  const countFastPass = (route: string) => {
    let count = fastPasses.get(route);
    if (!count) {
      count = deps.flow?.fastPassCounter(`GET ${route}`) ?? (() => undefined);
      fastPasses.set(route, count);
    }
    count();
  };

  /** Whether the fast path may answer this request at all, and under which key and route. */
  const eligible = (req: IncomingMessage) =>
    // A read-your-writes request must wait for its checkpoint: only the Express route does that.
    req.method === 'GET' &&
    req.url !== undefined &&
    req.headers['booking-checkpoint'] === undefined &&
    !deps.disabled() &&
    deps.redisReady()
      ? deps.routes.lookup(req)
      : undefined;

  /** The cache entry this request would be answered from at once, if the fast path answers it. */
  const fastEntry = (req: IncomingMessage) => {
    const known = eligible(req);
    const served = known && deps.cache.peekServable(known.key);
    return known && served ? { known, ...served } : undefined;
  };
  // The tracing hook asks first; the answer is kept on the request so the handler does not ask again.
  const answers = new WeakMap<IncomingMessage, ReturnType<typeof fastEntry>>();
  traceNoRequestsWhere((req) => {
    if (answers.has(req)) return answers.get(req) !== undefined;
    const hit = fastEntry(req);
    answers.set(req, hit);
    return hit !== undefined;
  });

  const answer = (
    req: IncomingMessage,
    res: ServerResponse,
    route: string,
    entry: CachedResponse,
    outcome: string,
    started: number,
  ) => {
    sendCached(req, res, entry, { outcome });
    duration.observe(labelsOf(route, res.statusCode), (performance.now() - started) / 1e3);
    deps.outcomes.inc({ route, outcome });
    countFastPass(route);
    if (debug) deps.logger.debug({ path: req.url, status: res.statusCode }, 'request (fast path)');
  };

  const answerHit = (req: IncomingMessage, res: ServerResponse): boolean => {
    const started = performance.now();
    const hit = fastEntry(req);
    if (!hit) {
      // Not a hit: the tracing hook and the handler below need not ask again.
      answers.set(req, undefined);
      return false;
    }
    answer(req, res, hit.known.route, hit.entry, hit.outcome, started);
    return true;
  };

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now();
    const hit = answers.has(req) ? answers.get(req) : fastEntry(req);
    if (hit) {
      answer(req, res, hit.known.route, hit.entry, hit.outcome, started);
      return;
    }
    // Not answered here: Express sees the canonical URL too (no tracking tags to refuse).
    if (req.method === 'GET' && req.url?.includes('?')) req.url = normaliseUrl(req.url);
    // A known URL whose entry a change just invalidated: wait for its one reload (as the route
    // would, coalesced with it) instead of sending each request through Express meanwhile.
    const known = eligible(req);
    const reload = known && deps.cache.reloading(known.key);
    if (known && reload) {
      reload
        .then(
          (entry) => answer(req, res, known.route, entry, 'l2-load', started),
          () => app(req, res),
        )
        .catch((err: unknown) => {
          deps.logger.warn({ err, path: req.url }, 'fast path could not answer after a reload');
          res.destroy();
        });
      return;
    }
    app(req, res);
  };
  return Object.assign(handler, { answerHit });
}

/** Answers the fast path's hits as `server` emits them, before the tracing instrumentation sees them. */
export function answerHitsFirst(server: Server, fast: FastPathHandler): void {
  answerBeforeInstrumentation(server, (req, res) => fast.answerHit(req, res));
}
