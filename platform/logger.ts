import { createRequire } from 'node:module';
import { pino, type DestinationStream, type Logger } from 'pino';
import { currentContext } from './context.ts';

export type LogFormat = 'pretty' | 'json';

/** True when this module runs from the compiled build (dist/, plain `node`), not from the sources under tsx. */
const compiled = import.meta.url.endsWith('.js');

/**
 * `LOG_FORMAT=pretty|json` when set; otherwise human-readable lines on a terminal while developing
 * (sources run by tsx, NODE_ENV not production) and JSON everywhere else, so a production build
 * logs JSON unless asked otherwise. The supervisor passes its choice to the services it spawns.
 */
export function logFormat(
  env: Record<string, string | undefined> = process.env,
  isTTY: boolean = process.stdout.isTTY === true,
): LogFormat {
  if (env.LOG_FORMAT === 'pretty' || env.LOG_FORMAT === 'json') return env.LOG_FORMAT;
  return isTTY && !compiled && env.NODE_ENV !== 'production' ? 'pretty' : 'json';
}

let prettyStream: DestinationStream | null | undefined;

/**
 * One pino-pretty stream per process, in the main thread (no transport worker), synchronous so a
 * fatal line is printed before `process.exit`. pino-pretty is a devDependency: where it is not
 * installed (a pruned production image) this says so once and the logs stay JSON.
 */
function pretty(): DestinationStream | undefined {
  if (prettyStream !== undefined) return prettyStream ?? undefined;
  try {
    const require = createRequire(import.meta.url);
    const build = require('pino-pretty') as (options: Record<string, unknown>) => DestinationStream;
    prettyStream = build({
      sync: true,
      colorize: process.stdout.isTTY === true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname,service',
      messageFormat: '{service} | {msg}',
      singleLine: true,
    });
  } catch {
    prettyStream = null;
    process.stderr.write('LOG_FORMAT=pretty needs pino-pretty (a devDependency): logging JSON\n');
  }
  return prettyStream ?? undefined;
}

/**
 * Every line carries the service name and, inside a request or event, its trace and correlation
 * ids; JSON or human-readable as `logFormat()` decides.
 */
export function createLogger(service: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  const options = {
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    mixin() {
      const ctx = currentContext();
      return ctx ? { traceId: ctx.traceId, spanId: ctx.spanId, correlationId: ctx.correlationId } : {};
    },
  };
  const stream = logFormat() === 'pretty' ? pretty() : undefined;
  return stream ? pino(options, stream) : pino(options);
}

export type { Logger };
