import type { Request, RequestHandler } from 'express';
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';

export { Registry };

export const HTTP_DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export function createRegistry(opts: { defaultMetrics?: boolean; service?: string } = {}): Registry {
  const registry = new Registry();
  if (opts.service) registry.setDefaultLabels({ service: opts.service });
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry });
  return registry;
}

/**
 * The route template a request matched (`/v1/appointments/:appointmentId/cancel`), never the raw
 * path. When the response finishes outside the router that matched (an error rendered by the app's
 * error handler), Express has already reset `baseUrl`; the mount prefix is then recovered from the
 * original URL by segment count.
 */
export function routeTemplate(req: Request): string {
  const route = req.route as { path?: unknown } | undefined;
  if (!route || typeof route.path !== 'string') return 'unmatched';
  if (req.baseUrl) return `${req.baseUrl}${route.path}`;
  const pathSegments = (req.originalUrl.split('?')[0] ?? '').split('/').filter(Boolean);
  const routeSegments = route.path.split('/').filter(Boolean);
  const prefix = pathSegments.slice(0, Math.max(0, pathSegments.length - routeSegments.length));
  return `${prefix.length ? `/${prefix.join('/')}` : ''}${route.path}`;
}

const histograms = new WeakMap<Registry, Histogram<'method' | 'route' | 'status_code'>>();

/** The one request-duration histogram of a registry, for the middleware and any path that bypasses it. */
export function httpDurationHistogram(registry: Registry): Histogram<'method' | 'route' | 'status_code'> {
  let histogram = histograms.get(registry);
  if (!histogram) {
    histogram = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration by method, route template and status code',
      labelNames: ['method', 'route', 'status_code'] as const,
      buckets: HTTP_DURATION_BUCKETS,
      registers: [registry],
    });
    histograms.set(registry, histogram);
  }
  return histogram;
}

/** Request-duration histogram labelled by method, route template and status code. */
export function httpMetricsMiddleware(registry: Registry): RequestHandler {
  const histogram = httpDurationHistogram(registry);
  return (req, res, next) => {
    const end = histogram.startTimer();
    res.on('finish', () => {
      end({ method: req.method, route: routeTemplate(req), status_code: String(res.statusCode) });
    });
    next();
  };
}
