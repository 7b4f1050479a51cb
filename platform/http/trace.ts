import type { RequestHandler } from 'express';
import type { Logger } from 'pino';
import { contextFromTraceparent, currentContext, runWithContext, toTraceparent } from '../context.ts';

const CORRELATION_ID = /^[\x21-\x7e]{1,128}$/;

/**
 * One trace context per request: an incoming W3C `traceparent` is honoured (new span, same trace),
 * otherwise a trace is started. Returned as `traceparent` and `X-Trace-Id`; everything downstream
 * (logs, event metadata) reads it from `currentContext()`.
 */
export function traceMiddleware(): RequestHandler {
  return (req, res, next) => {
    const correlation = req.header('x-correlation-id');
    const ctx = contextFromTraceparent(
      req.header('traceparent'),
      correlation && CORRELATION_ID.test(correlation) ? correlation : undefined,
    );
    res.setHeader('traceparent', toTraceparent(ctx));
    res.setHeader('X-Trace-Id', ctx.traceId);
    runWithContext(ctx, next);
  };
}

/** One log line per finished request (debug for probes and scrapes, info otherwise). */
export function requestLogger(
  logger: Logger,
  quietPaths: readonly string[] = ['/healthz', '/readyz', '/metrics'],
) {
  const handler: RequestHandler = (req, res, next) => {
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
      if (quietPaths.includes(req.path)) logger.debug(line, 'request');
      else logger.info(line, 'request');
    });
    next();
  };
  return handler;
}
