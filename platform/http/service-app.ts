import { parse as parseQuery } from 'node:querystring';
import type { RequestListener } from 'node:http';
import express, { type Express } from 'express';
import type { Logger } from '../logger.ts';
import { apiDocsRouter, type ApiDescription } from './api-docs.ts';
import {
  healthRouter,
  livenessResponse,
  readinessResponse,
  type HealthOptions,
  type HealthResponse,
} from './health.ts';
import { httpMetricsMiddleware, type Registry } from './metrics.ts';
import { adminHandler } from './admin.ts';
import { notFoundHandler, problemMiddleware } from './problem-middleware.ts';
import { requestLogger, traceMiddleware } from './trace.ts';

/** Query parameters parsed per request; the rest are ignored (no route takes more than a handful). */
export const MAX_QUERY_PARAMS = 50;

export interface ServiceHealth {
  live: () => Promise<HealthResponse>;
  ready: () => Promise<HealthResponse>;
}

const healthByApp = new WeakMap<Express, ServiceHealth>();

/** What /healthz and /readyz of a service app answer, without HTTP (for start functions' handles). */
export function healthOf(app: Express): ServiceHealth {
  const health = healthByApp.get(app);
  if (!health) throw new Error('not a serviceApp');
  return health;
}

export interface ServiceApp {
  app: Express;
  /** Readiness fails and responses ask clients to close their connections. */
  beginShutdown: () => void;
  isShuttingDown: () => boolean;
  /** The admin listener's handler: /metrics and the detailed health (serve it on the admin port). */
  admin: RequestListener;
  /** Adds the 404 and problem+json handlers; call after mounting the service's routes. */
  finish: () => Express;
}

/** What every service app answers itself, outside flow control: health and the API's documentation. */
export const isServicePath = (path: string): boolean =>
  path === '/healthz' ||
  path === '/readyz' ||
  path === '/openapi.json' ||
  path === '/docs' ||
  path.startsWith('/docs/') ||
  path.startsWith('/problems/');

/** Peers whose X-Forwarded-For is believed (proxy-addr's names): this host and private networks. */
export const TRUSTED_PROXIES = 'loopback, uniquelocal';

/**
 * What every HTTP service of the platform shares, in order: trace context, the request-duration
 * histogram, the access log, connection draining on shutdown, the public /healthz and /readyz (and
 * an admin handler with /metrics and the detailed health, for the admin port)
 * (and, for an API, /openapi.json, /docs and /problems/:code).
 */
export function serviceApp(opts: {
  logger: Logger;
  registry: Registry;
  readiness: Omit<HealthOptions, 'isShuttingDown'>;
  /** An API's routes: served as /openapi.json and /docs, its problem types as /problems/:code. */
  api?: ApiDescription;
}): ServiceApp {
  let shuttingDown = false;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // The client's address (per-IP flow rules, read-your-writes waits) is the one the gateway or a
  // load balancer on this host or a private network forwards, not theirs; a peer elsewhere cannot
  // set it. Services listen on 127.0.0.1 unless HOST says otherwise.
  app.set('trust proxy', TRUSTED_PROXIES);
  // Node's querystring (Express's 'simple' parser) with a bound on parameters: a URL with
  // thousands of them costs no more to parse, and cannot come back as thousands of problems.
  app.set('query parser', (query: string) => parseQuery(query, '&', '=', { maxKeys: MAX_QUERY_PARAMS }));
  app.use(traceMiddleware());
  app.use(httpMetricsMiddleware(opts.registry));
  app.use(requestLogger(opts.logger));
  app.use((_req, res, next) => {
    if (shuttingDown) res.setHeader('Connection', 'close');
    next();
  });
  const health: HealthOptions = { ...opts.readiness, isShuttingDown: () => shuttingDown };
  app.use(healthRouter(health));
  healthByApp.set(app, { live: () => livenessResponse(health), ready: () => readinessResponse(health) });
  if (opts.api) app.use(apiDocsRouter(opts.api));
  return {
    app,
    admin: adminHandler({ registry: opts.registry, health }),
    beginShutdown: () => {
      shuttingDown = true;
    },
    isShuttingDown: () => shuttingDown,
    finish: () => {
      app.use(notFoundHandler);
      app.use(problemMiddleware(opts.logger, { problemBase: opts.api?.problemBase }));
      return app;
    },
  };
}
