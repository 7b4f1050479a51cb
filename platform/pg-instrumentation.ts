/**
 * The pg instrumentation (platform/telemetry.ts), making a statement span only under a span that
 * records: a sampled request or event. Under an unsampled parent — nine bookings in ten at the
 * production sampling — the stock instrumentation still does everything a sampled statement costs
 * but the export: the span's attributes, the operation name parsed out of the SQL, a
 * non-recording span, a duration for OpenTelemetry metrics nobody reads (ours are prom-client's),
 * two more promises and a context-bound callback per statement. Nothing of that is ever seen: an
 * unsampled span is not exported and a statement carries no trace context to PostgreSQL. Without
 * any parent span the statement is not traced either (`requireParentSpan`: polls, health checks).
 * The pool is not patched at all: its checkout would be a span we do not make (`ignoreConnectSpans`),
 * and its wrapper still ran per checkout and kept OpenTelemetry pool metrics nobody reads (ours are
 * prom-client's) up to date from four listeners per pool — about a third of what the pg
 * instrumentation cost an unsampled booking (bench/results/tracing.md).
 */
import { context, trace } from '@opentelemetry/api';
import type { InstrumentationNodeModuleDefinition } from '@opentelemetry/instrumentation';
import { PgInstrumentation, type PgInstrumentationConfig } from '@opentelemetry/instrumentation-pg';

type Wrap = PgInstrumentation['_wrap'];
type Fn = (this: unknown, ...args: unknown[]) => unknown;

/** True inside a span that records (and so will be exported); false outside one or in an unsampled one. */
export const recordingSpanActive = (): boolean => trace.getSpan(context.active())?.isRecording() === true;

/** `client.query` as patched, but the unpatched one when no recording span is active. */
export function tracedOnlyWhenRecording(original: Fn, traced: Fn): Fn {
  return function query(this: unknown, ...args: unknown[]) {
    return recordingSpanActive() ? traced.apply(this, args) : original.apply(this, args);
  };
}

export class RecordingOnlyPgInstrumentation extends PgInstrumentation {
  constructor(config: PgInstrumentationConfig = {}) {
    super({ ...config, requireParentSpan: true });
    // The instrumentation wraps `Client.prototype.query` through `_wrap` when pg loads (after this
    // constructor): the query wrapper is wrapped once more to be skipped outside a recording span.
    const wrap = this._wrap;
    this._wrap = ((nodule: object, name: string, wrapper: (original: Fn, name: string) => Fn) =>
      wrap(
        nodule as Record<string, Fn>,
        name,
        name === 'query'
          ? (original: Fn) => tracedOnlyWhenRecording(original, wrapper(original, name))
          : wrapper,
      )) as Wrap;
  }

  /** `pg` only: `pg-pool` is left as it is. */
  protected override init(): InstrumentationNodeModuleDefinition[] {
    return super.init().filter((definition) => definition.name !== 'pg-pool');
  }
}
