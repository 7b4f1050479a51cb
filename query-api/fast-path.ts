import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { LRUCache } from 'lru-cache';
import type { Counter } from 'prom-client';
import { traceNoRequestsWhere } from '../platform/context.ts';
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

  remember(url: string, key: string, route: string): void {
    this.byUrl.set(normaliseUrl(url), { key, route });
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
 * or `X-Trace-Id` and costs no span.
 */
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
): RequestListener {
  const duration = httpDurationHistogram(deps.registry);
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
    started: bigint,
  ) => {
    sendCached(req, res, entry, { outcome });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    duration.observe({ method: 'GET', route, status_code: String(res.statusCode) }, seconds);
    deps.outcomes.inc({ route, outcome });
    countFastPass(route);
    if (debug) deps.logger.debug({ path: req.url, status: res.statusCode }, 'request (fast path)');
  };

  return (req: IncomingMessage, res: ServerResponse) => {
    const started = process.hrtime.bigint();
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
}
