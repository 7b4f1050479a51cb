import type { RequestHandler } from 'express';
import type { Logger } from 'pino';
import { currentContext, toTraceparent, withCorrelationId } from '../context.ts';

const CORRELATION_ID = /^[\x21-\x7e]{1,128}$/;

/**
 * The request's trace context comes from OpenTelemetry (platform/telemetry.ts): the http
 * instrumentation honours an incoming W3C `traceparent` (its server span joins that trace) or
 * starts a trace. This returns the server span as `traceparent` and its trace id as `X-Trace-Id`,
 * and keeps a valid `X-Correlation-Id` in the context (else the trace id is the correlation id).
 * Without the SDK (OTEL_SDK_DISABLED=true) there is no span and no trace header.
 */
export function traceMiddleware(): RequestHandler {
  return (req, res, next) => {
    const ctx = currentContext();
    if (ctx) {
      res.setHeader('traceparent', toTraceparent(ctx));
      res.setHeader('X-Trace-Id', ctx.traceId);
    }
    const correlation = req.header('x-correlation-id');
    if (correlation && CORRELATION_ID.test(correlation)) withCorrelationId(correlation, next);
    else next();
  };
}

/** One log line per finished request (debug for probes and scrapes, info otherwise). */
export function requestLogger(
  logger: Logger,
  quietPaths: readonly string[] = ['/healthz', '/readyz', '/metrics'],
) {
  const handler: RequestHandler = (req, res, next) => {
    // A level that writes nothing (LOG_LEVEL=warn) costs no listener, no timer and no line.
    const level = quietPaths.includes(req.path) ? 'debug' : 'info';
    if (!logger.isLevelEnabled(level)) {
      next();
      return;
    }
    const started = process.hrtime.bigint();
    const ctx = currentContext();
    res.on('finish', () => {
      const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
      const line = {
        method: req.method,
        path: req.originalUrl.split('?')[0],
        status: res.statusCode,
        durationMs: Math.round(durationMs * 100) / 100,
        ...(ctx ? { traceId: ctx.traceId, spanId: ctx.spanId } : {}),
      };
      logger[level](line, 'request');
    });
    next();
  };
  return handler;
}
