/**
 * The server span of every incoming HTTP request, in place of the server side of OpenTelemetry's
 * http instrumentation (platform/telemetry.ts keeps its client side). Per request the stock one
 * built the span's attributes and a metrics record even for an unsampled span, and bound the
 * request's and response's emitters to the context: the context manager patched their listener
 * methods and wrapped every listener Express, body parsing and we add — about a fifth of what
 * tracing cost a booking at sampling 0.1 (bench/results/tracing.md). Here the sampler decides
 * first, on the method alone; only a recorded span gets attributes and an end; and no emitter is
 * bound. What runs from the request's own stream events is the body read, and Express's body
 * parser (raw-body) already calls back in the context it was called in (an AsyncResource per read);
 * our listeners on the response (access log, metrics, flow release) read no trace context.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Span,
} from '@opentelemetry/api';

type Emit = (this: http.Server, event: string | symbol, ...args: unknown[]) => boolean;

/** The Express route an incoming request matched (`/v1/appointments`), once it has been routed. */
export function routeOf(request: IncomingMessage): string | undefined {
  const { route, baseUrl } = request as { route?: { path?: unknown }; baseUrl?: unknown };
  if (typeof route?.path !== 'string') return undefined;
  return `${typeof baseUrl === 'string' ? baseUrl : ''}${route.path}`;
}

/**
 * Names a server span `METHOD /route` with `http.route`, read from Express's own `req.route` when
 * the response ends (no express instrumentation: it wrapped every middleware layer of every
 * request for that name), and records the status.
 */
export function endServerSpan(span: Span, req: IncomingMessage, res: ServerResponse): void {
  const route = routeOf(req);
  if (route !== undefined) {
    span.setAttribute('http.route', route);
    span.updateName(`${req.method ?? 'GET'} ${route}`);
  }
  span.setAttribute('http.response.status_code', res.statusCode);
  if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
  if (!res.writableFinished) span.setAttribute('http.request.aborted', true);
  span.end();
}

function describeRequest(span: Span, req: IncomingMessage): void {
  const url = req.url ?? '/';
  const query = url.indexOf('?');
  span.setAttributes({
    'url.scheme': 'http',
    'url.path': query < 0 ? url : url.slice(0, query),
    'network.protocol.version': req.httpVersion,
    ...(req.socket.remoteAddress ? { 'network.peer.address': req.socket.remoteAddress } : {}),
    ...(req.headers['user-agent'] ? { 'user_agent.original': req.headers['user-agent'] } : {}),
  });
}

/**
 * Every `request` an HTTP server emits runs in a context with its server span (joining the trace
 * of an incoming `traceparent`, under parent-based sampling), unless `ignored` says otherwise (then
 * in no trace at all). An unsampled span still carries its trace and span ids: the X-Trace-Id
 * header and the events' metadata name them, with the sampled flag off, so what follows downstream
 * stays unsampled too. Returns what takes the patch back (tests).
 */
export function traceIncomingRequests(ignored: (req: IncomingMessage) => boolean): () => void {
  const proto = http.Server.prototype as unknown as { emit: Emit };
  const emit = proto.emit;
  const tracer = trace.getTracer('booking-platform');
  proto.emit = function tracedEmit(this: http.Server, event, ...args) {
    if (event !== 'request') return emit.call(this, event, ...args);
    const req = args[0] as IncomingMessage;
    if (ignored(req)) return emit.call(this, event, ...args);
    const parent = propagation.extract(ROOT_CONTEXT, req.headers);
    const method = req.method ?? 'GET';
    const span = tracer.startSpan(
      method,
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': method } },
      parent,
    );
    if (span.isRecording()) {
      describeRequest(span, req);
      const res = args[1] as ServerResponse;
      res.once('close', () => endServerSpan(span, req, res));
    }
    return context.with(trace.setSpan(parent, span), () => emit.call(this, event, ...args));
  };
  return () => {
    proto.emit = emit;
  };
}
