import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { LRUCache } from 'lru-cache';
import type { Counter } from 'prom-client';
import { contextFromTraceparent, toTraceparent } from '../platform/context.ts';
import { httpDurationHistogram, type Registry } from '../platform/http/metrics.ts';
import type { Logger } from '../platform/logger.ts';
import { sendCached } from './cache/send-cached.ts';
import type { TwoLevelCache } from './cache/two-level-cache.ts';

/**
 * Remembers which raw request URLs the Express routes validated and cached, and under which
 * cache key and route. Only URLs that went through validation once are ever served fast.
 */
export class FastRoutes {
  private readonly byUrl = new LRUCache<string, { key: string; route: string }>({ max: 50_000 });

  remember(url: string, key: string, route: string): void {
    this.byUrl.set(url, { key, route });
  }

  lookup(url: string): { key: string; route: string } | undefined {
    return this.byUrl.get(url);
  }
}

/**
 * The hot path of the read-heavy front door: a GET whose bytes sit fresh in the in-process
 * cache is answered straight from node:http, before Express routing, with the same headers,
 * ETag/304 handling, compression, trace headers and metrics as the Express route. Anything else
 * (a miss, a stale or invalidated entry, a new URL, Redis down) goes to Express unchanged.
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
  },
): RequestListener {
  const duration = httpDurationHistogram(deps.registry);
  const debug = deps.logger.isLevelEnabled('debug');

  return (req: IncomingMessage, res: ServerResponse) => {
    // A read-your-writes request must wait for its checkpoint: only the Express route does that.
    if (
      req.method === 'GET' &&
      req.url &&
      req.headers['booking-checkpoint'] === undefined &&
      !deps.disabled() &&
      deps.redisReady()
    ) {
      const known = deps.routes.lookup(req.url);
      const entry = known && deps.cache.peekFresh(known.key);
      if (known && entry) {
        const started = process.hrtime.bigint();
        const traceparent = req.headers.traceparent;
        const ctx = contextFromTraceparent(typeof traceparent === 'string' ? traceparent : undefined);
        res.setHeader('traceparent', toTraceparent(ctx));
        res.setHeader('X-Trace-Id', ctx.traceId);
        sendCached(req, res, entry, { outcome: 'l1-hit' });
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        duration.observe({ method: 'GET', route: known.route, status_code: String(res.statusCode) }, seconds);
        deps.outcomes.inc({ route: known.route, outcome: 'l1-hit' });
        if (debug)
          deps.logger.debug(
            { traceId: ctx.traceId, path: req.url, status: res.statusCode },
            'request (fast path)',
          );
        return;
      }
    }
    app(req, res);
  };
}
