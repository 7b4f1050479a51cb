import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';

/** What travels with a request or an event through every log line and every event's metadata. */
export interface TraceContext {
  traceId: string;
  spanId: string;
  correlationId: string;
  causationId?: string;
}

const storage = new AsyncLocalStorage<TraceContext>();

export const currentContext = (): TraceContext | undefined => storage.getStore();

export const runWithContext = <T>(ctx: TraceContext, fn: () => T): T => storage.run(ctx, fn);

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

export const newSpanId = (): string => randomBytes(8).toString('hex');
export const newTraceId = (): string => randomBytes(16).toString('hex');

/** Honours an incoming W3C traceparent (a new span under the same trace), else starts a trace. */
export function contextFromTraceparent(header: string | undefined, correlationId?: string): TraceContext {
  const match = header ? TRACEPARENT.exec(header.trim().toLowerCase()) : null;
  const traceId = match?.[1] && !/^0+$/.test(match[1]) ? match[1] : newTraceId();
  return { traceId, spanId: newSpanId(), correlationId: correlationId ?? traceId };
}

export const toTraceparent = (ctx: Pick<TraceContext, 'traceId' | 'spanId'>): string =>
  `00-${ctx.traceId}-${ctx.spanId}-01`;
