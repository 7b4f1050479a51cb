import type { Request, RequestHandler } from 'express';
import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { AppError } from './errors.ts';

/**
 * Inbound flow control: one point per request against `limiter` for the key the request maps
 * to (none: not limited). Over the limit → 429 problem+json with Retry-After; every limited
 * response carries the IETF RateLimit-* fields. The limiter is rate-limiter-flexible's: in
 * production backed by Redis so every instance shares one budget per key, with an in-memory
 * insurance limiter when Redis is unreachable.
 */
export function rateLimit(opts: {
  limiter: RateLimiterAbstract;
  key: (req: Request) => string | undefined;
  what: string;
}): RequestHandler {
  return async (req, res, next) => {
    const key = opts.key(req);
    if (key === undefined) {
      next();
      return;
    }
    const headers = (r: RateLimiterRes) => ({
      'RateLimit-Limit': String(opts.limiter.points),
      'RateLimit-Remaining': String(Math.max(0, r.remainingPoints)),
      'RateLimit-Reset': String(Math.ceil(r.msBeforeNext / 1000)),
    });
    try {
      const result = await opts.limiter.consume(key);
      for (const [k, v] of Object.entries(headers(result))) res.setHeader(k, v);
    } catch (rejection) {
      // A store error without an insurance limiter must not turn into a client-visible 429.
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      throw new AppError('too_many_requests', `Too many ${opts.what}; retry later`, {
        headers: {
          ...headers(rejection),
          'Retry-After': String(Math.max(1, Math.ceil(rejection.msBeforeNext / 1000))),
        },
      });
    }
    next();
  };
}
