/**
 * The trace context of the current request or event, read from OpenTelemetry's active span: the
 * SDK (platform/telemetry.ts, preloaded with `--import`) extracts an incoming W3C `traceparent`,
 * starts the spans and keeps them active across awaits. This module imports only
 * `@opentelemetry/api` (and `core` for suppression): without the SDK (OTEL_SDK_DISABLED=true, or
 * a process started without the preload, as in the unit and in-process tests) every function
 * here is a cheap no-op — no trace id, no spans.
 */
import type { IncomingMessage } from 'node:http';
import {
  context,
  createContextKey,
  defaultTextMapGetter,
  isSpanContextValid,
  ROOT_CONTEXT,
  SpanKind,
  trace,
  TraceFlags,
  type Attributes,
  type Context,
  type Link,
  type Span,
} from '@opentelemetry/api';
import { suppressTracing, W3CTraceContextPropagator } from '@opentelemetry/core';

/** What travels with a request or an event through every log line and every event's metadata. */
export interface TraceContext {
  traceId: string;
  spanId: string;
  /** The caller's `X-Correlation-Id` when it sent one, else the trace id. */
  correlationId: string;
  traceFlags?: number;
}

const CORRELATION_ID = createContextKey('booking.correlation-id');

/** The active span's ids (undefined outside a traced request or event, or with the SDK off). */
export function currentContext(): TraceContext | undefined {
  const active = context.active();
  const span = trace.getSpan(active)?.spanContext();
  if (!span || !isSpanContextValid(span)) return undefined;
  const correlation = active.getValue(CORRELATION_ID);
  return {
    traceId: span.traceId,
    spanId: span.spanId,
    correlationId: typeof correlation === 'string' ? correlation : span.traceId,
    traceFlags: span.traceFlags,
  };
}

/** Runs `fn` with a caller-supplied correlation id in the context (logs and event metadata read it). */
export const withCorrelationId = <T>(correlationId: string, fn: () => T): T =>
  context.with(context.active().setValue(CORRELATION_ID, correlationId), fn);

/** W3C traceparent of a span context (what the event metadata stores and the relay publishes). */
export const toTraceparent = (ctx: Pick<TraceContext, 'traceId' | 'spanId' | 'traceFlags'>): string =>
  `00-${ctx.traceId}-${ctx.spanId}-${(ctx.traceFlags ?? TraceFlags.SAMPLED).toString(16).padStart(2, '0')}`;

const w3c = new W3CTraceContextPropagator();

/**
 * The parent context a stored W3C traceparent names (the root context if it is absent or
 * invalid). Stored and published traceparents are W3C whatever OTEL_PROPAGATORS says for HTTP.
 */
export const contextOfTraceparent = (traceparent: string | undefined): Context =>
  traceparent ? w3c.extract(ROOT_CONTEXT, { traceparent }, defaultTextMapGetter) : ROOT_CONTEXT;

/** The span context a stored traceparent names, as a link (undefined if absent or invalid). */
export function linkOfTraceparent(traceparent: string | undefined): Link | undefined {
  const span = trace.getSpan(contextOfTraceparent(traceparent))?.spanContext();
  return span && isSpanContextValid(span) ? { context: span } : undefined;
}

/** Runs `fn` with tracing suppressed: no spans, and no trace context injected into outgoing calls. */
export const untraced = <T>(fn: () => T): T => context.with(suppressTracing(context.active()), fn);

export const tracer = () => trace.getTracer('booking-platform');

/**
 * Starts a span under `parent` (e.g. the context an event carries; by default the active one,
 * e.g. the request's), runs `fn` with it active, and ends it (recording a failure) when `fn` settles.
 */
export async function inSpan<T>(
  name: string,
  opts: { parent?: Context; kind?: SpanKind; links?: Link[]; attributes?: Attributes },
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  const span = tracer().startSpan(
    name,
    {
      kind: opts.kind ?? SpanKind.INTERNAL,
      ...(opts.links ? { links: opts.links } : {}),
      ...(opts.attributes ? { attributes: opts.attributes } : {}),
    },
    opts.parent ?? context.active(),
  );
  try {
    return await context.with(trace.setSpan(context.active(), span), () => fn(span));
  } catch (err) {
    span.recordException(err instanceof Error ? err : String(err));
    span.setStatus({ code: 2, message: err instanceof Error ? err.message : String(err) });
    throw err;
  } finally {
    span.end();
  }
}

export { SpanKind, type Span };

let flushTelemetry: (() => Promise<void>) | undefined;
const untracedRequests: ((req: IncomingMessage) => boolean)[] = [];

/**
 * Incoming requests for which no server span is made (the query API's cache-hit fast path).
 * Kept only while the SDK runs (nothing accumulates in a process without it).
 */
export function traceNoRequestsWhere(predicate: (req: IncomingMessage) => boolean): void {
  if (flushTelemetry) untracedRequests.push(predicate);
}

export const isUntracedRequest = (req: IncomingMessage): boolean => untracedRequests.some((p) => p(req));

/** The SDK registers how to flush and stop it; composition roots call `shutdownTelemetry` on exit. */
export function onTelemetryShutdown(flush: () => Promise<void>): void {
  flushTelemetry = flush;
}

/** Exports the spans still buffered and stops the SDK (no-op without it); never throws, gives up after `timeoutMs`. */
export async function shutdownTelemetry(timeoutMs = 3_000): Promise<void> {
  if (!flushTelemetry) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    flushTelemetry().catch(() => undefined),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs).unref())),
  ]);
  clearTimeout(timer);
}
