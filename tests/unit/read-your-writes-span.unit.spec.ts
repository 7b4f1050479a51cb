/**
 * The read-your-writes wait as its own span (issue 12): an SDK tracer provider with an in-memory
 * exporter stands in for the preload, so the spans loadUntil makes can be read back — no engines.
 */
import { context, trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { useInMemoryTracing } from '../support/in-memory-tracing.ts';
import { loadUntil, WAIT_SPAN } from '../../query-api/read-your-writes.ts';

const exporter = useInMemoryTracing();
const waitSpans = () => exporter.getFinishedSpans().filter((s) => s.name === WAIT_SPAN);

/** A load that answers `values` in turn (the last one again once they run out), counting calls. */
function loads<T>(...values: T[]) {
  const state = { calls: 0 };
  const load = () => Promise.resolve(values[Math.min(state.calls++, values.length - 1)] as T);
  return { state, load };
}
const isTrue = (v: boolean) => v;

/** Runs `fn` under a span standing in for the HTTP server span the instrumentation makes. */
async function inRequest<T>(fn: () => Promise<T>) {
  const request = trace.getTracer('test').startSpan('GET /v1/appointments/:id');
  try {
    const result = await context.with(trace.setSpan(context.active(), request), fn);
    return { result, request: request.spanContext() };
  } finally {
    request.end();
  }
}

describe('the read-your-writes wait span', () => {
  it('makes no span when the first load is fresh, or when there is no checkpoint to wait for', async () => {
    const fresh = loads(true);
    expect(await inRequest(() => loadUntil(fresh.load, isTrue, 1_000))).toMatchObject({
      result: { value: true, fresh: true },
    });
    const noWait = loads(false);
    expect(await inRequest(() => loadUntil(noWait.load, isTrue, 0))).toMatchObject({
      result: { value: false, fresh: false },
    });
    expect(fresh.state.calls + noWait.state.calls).toBe(2);
    expect(waitSpans()).toEqual([]);
  });

  it('traces a wait that reaches the checkpoint as a child of the request, with its polls', async () => {
    const l = loads(false, false, true);
    const { result, request } = await inRequest(() => loadUntil(l.load, isTrue, 2_000, 5));
    expect(result).toEqual({ value: true, fresh: true });
    const [span, ...more] = waitSpans();
    expect(more).toEqual([]);
    expect(span?.spanContext().traceId).toBe(request.traceId);
    expect(span?.parentSpanContext?.spanId).toBe(request.spanId);
    expect(span?.attributes).toMatchObject({
      'booking.ryw.reached': true,
      'booking.ryw.polls': 2,
      'booking.ryw.timeout_ms': 2_000,
    });
    expect(span?.attributes['booking.ryw.waited_ms']).toBeGreaterThanOrEqual(5);
  });

  it('says when the wait ran out before the checkpoint was reached', async () => {
    const l = loads(false);
    const { result } = await inRequest(() => loadUntil(l.load, isTrue, 60, 10));
    expect(result).toEqual({ value: false, fresh: false });
    const [span] = waitSpans();
    expect(span?.attributes['booking.ryw.reached']).toBe(false);
    expect(span?.attributes['booking.ryw.waited_ms']).toBeGreaterThanOrEqual(60);
    expect(span?.attributes['booking.ryw.polls']).toBe(l.state.calls - 1);
    expect(l.state.calls).toBeGreaterThanOrEqual(2);
  });

  it('records a load that fails during the wait on the span, and rethrows it', async () => {
    let calls = 0;
    const load = () => (++calls === 1 ? Promise.resolve(false) : Promise.reject(new Error('redis gone')));
    await expect(inRequest(() => loadUntil(load, isTrue, 1_000, 1))).rejects.toThrow('redis gone');
    const [span] = waitSpans();
    expect(span?.status).toMatchObject({ code: 2, message: 'redis gone' });
  });
});
