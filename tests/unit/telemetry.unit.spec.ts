import { describe, expect, it } from 'vitest';
import {
  contextOfTraceparent,
  currentContext,
  linkOfTraceparent,
  toTraceparent,
  untraced,
} from '../../platform/context.ts';
import { serviceNameOf } from '../../platform/telemetry.ts';
import { trace } from '@opentelemetry/api';

const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

describe('telemetry', () => {
  it('names each service after its entry, from the sources or the build', () => {
    expect(serviceNameOf('/app/command-api/main.ts')).toBe('command-api');
    expect(serviceNameOf('/app/dist/query-api/main.js')).toBe('query-api');
    expect(serviceNameOf('projections/main.ts')).toBe('projections');
    expect(serviceNameOf('/app/dist/projections/catalog/main.js')).toBe('catalog-projections');
    expect(serviceNameOf('tests/support/projections-child.ts')).toBe('projections');
    expect(serviceNameOf('/app/dist/infra/migrate.js')).toBe('migrate');
    expect(serviceNameOf(undefined)).toBe('booking');
  });

  it('reads a stored W3C traceparent back as a parent context and a link', () => {
    const parent = trace.getSpan(contextOfTraceparent(TRACEPARENT))?.spanContext();
    expect(parent).toMatchObject({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331' });
    expect(toTraceparent(parent!)).toBe(TRACEPARENT);
    expect(linkOfTraceparent(TRACEPARENT)?.context.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(linkOfTraceparent('00-00000000000000000000000000000000-b7ad6b7169203331-01')).toBeUndefined();
    expect(linkOfTraceparent('garbage')).toBeUndefined();
    expect(trace.getSpan(contextOfTraceparent(undefined))).toBeUndefined();
  });

  it('has no trace context without the SDK (a no-op, not an error)', () => {
    expect(currentContext()).toBeUndefined();
    expect(untraced(() => 42)).toBe(42);
  });
});
