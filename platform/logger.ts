import { pino, type Logger } from 'pino';
import { currentContext } from './context.ts';

/** JSON logs; every line carries the service name and, inside a request or event, its trace and correlation ids. */
export function createLogger(service: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    mixin() {
      const ctx = currentContext();
      return ctx ? { traceId: ctx.traceId, spanId: ctx.spanId, correlationId: ctx.correlationId } : {};
    },
  });
}

export type { Logger };
