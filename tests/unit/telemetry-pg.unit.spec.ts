/**
 * The pg instrumentation skipped under an unsampled parent (platform/pg-instrumentation.ts): a
 * stand-in `pg` module is patched as the preload patches the real one, and an SDK tracer provider
 * with an in-memory exporter shows which statements made spans — no engines.
 */
import { context, trace, TraceFlags, type Context } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { useInMemoryTracing } from '../support/in-memory-tracing.ts';
import { RecordingOnlyPgInstrumentation } from '../../platform/pg-instrumentation.ts';

/** What the instrumentation reads of a pg Client; `query` answers the promise it was given. */
class FakeClient {
  readonly database = 'booking';
  readonly connectionParameters = { database: 'booking', host: '127.0.0.1', port: 5432 };
  constructor(private readonly answer: Promise<unknown>) {}
  query(_text: string): Promise<unknown> {
    return this.answer;
  }
  connect(): Promise<void> {
    return Promise.resolve();
  }
}

function patchedPg() {
  const instrumentation = new RecordingOnlyPgInstrumentation({ enabled: false });
  instrumentation.setTracerProvider(trace.getTracerProvider());
  const pg = { Client: class extends FakeClient {} };
  for (const definition of instrumentation.getModuleDefinitions())
    if (definition.name === 'pg') definition.patch?.(pg, '8.16.0');
  return pg;
}

const unsampled = (): Context =>
  trace.setSpan(
    context.active(),
    trace.wrapSpanContext({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: TraceFlags.NONE,
    }),
  );

describe('pg statements make spans only under a recording span', () => {
  const exporter = useInMemoryTracing();

  it('traces a statement of a sampled request', async () => {
    const pg = patchedPg();
    const answer = Promise.resolve({ command: 'SELECT', rowCount: 1, rows: [] });
    const request = trace.getTracer('test').startSpan('POST /v1/appointments');
    await context.with(trace.setSpan(context.active(), request), () =>
      new pg.Client(answer).query('SELECT 1'),
    );
    request.end();
    const [statement] = exporter.getFinishedSpans().filter((s) => s.name !== 'POST /v1/appointments');
    expect(statement?.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
    expect(statement?.attributes['db.query.text']).toBe('SELECT 1');
  });

  it('hands a statement of an unsampled request, or of none, to pg untouched', () => {
    const pg = patchedPg();
    const answer = Promise.resolve({ command: 'SELECT', rowCount: 1, rows: [] });
    // The very promise pg returned: no span, no wrapper promise, no bound callback.
    expect(context.with(unsampled(), () => new pg.Client(answer).query('SELECT 1'))).toBe(answer);
    expect(new pg.Client(answer).query('SELECT 1')).toBe(answer);
    expect(exporter.getFinishedSpans()).toEqual([]);
  });

  it('patches pg alone, not the pool (its checkout is no span)', () => {
    const instrumentation = new RecordingOnlyPgInstrumentation({ enabled: false });
    expect(instrumentation.getModuleDefinitions().map((d) => d.name)).toEqual(['pg']);
  });
});
