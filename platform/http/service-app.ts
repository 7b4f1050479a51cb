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
import { httpMetricsMiddleware, metricsHandler, type Registry } from './metrics.ts';
import { notFoundHandler, problemMiddleware } from './problem-middleware.ts';
import { requestLogger, traceMiddleware } from './trace.ts';

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
  /** Adds the 404 and problem+json handlers; call after mounting the service's routes. */
  finish: () => Express;
}

/**
 * What every HTTP service of the platform shares, in order: trace context, the request-duration
 * histogram, the access log, connection draining on shutdown, /healthz, /readyz and /metrics
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
  app.get('/metrics', metricsHandler(opts.registry));
  if (opts.api) app.use(apiDocsRouter(opts.api));
  return {
    app,
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
