/**
 * Our server span (platform/http-server-span.ts): a real Express app with the JSON body parser
 * answers real requests, an SDK tracer provider with an in-memory exporter stands in for the
 * preload. The handler runs after the body was read (from the request's stream events, outside
 * the context the request was emitted in) and reports the trace context it sees.
 */
import { randomBytes } from 'node:crypto';
import { request, type IncomingMessage } from 'node:http';
import { text } from 'node:stream/consumers';
import { setTimeout } from 'node:timers/promises';
import { propagation } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentContext, type TraceContext } from '../../platform/context.ts';
import { jsonBody } from '../../platform/http/body.ts';
import { traceIncomingRequests } from '../../platform/http-server-span.ts';
import { boundPort, listen } from '../../platform/http/server.ts';
import { useInMemoryTracing } from '../support/in-memory-tracing.ts';

describe('the server span', () => {
  const exporter = useInMemoryTracing();
  let untrace: () => void;
  let baseUrl: string;
  let close: () => void;

  beforeAll(async () => {
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    untrace = traceIncomingRequests((req) => req.url === '/quiet');
    const app = express();
    app.use(...jsonBody());
    const seen = (_req: express.Request, res: express.Response) =>
      void res.status(201).json(currentContext() ?? null);
    app.post('/v1/things/:id', seen);
    app.post('/quiet', seen);
    const server = await listen(app, 0, '127.0.0.1');
    baseUrl = `http://127.0.0.1:${boundPort(server)}`;
    close = () => {
      server.closeAllConnections();
      server.close();
    };
  });

  afterAll(() => {
    untrace();
    propagation.disable();
    close();
  });

  /** Sends the headers, and the body a moment later: it is read from a later event of the connection. */
  async function post(path: string, traceparent?: string): Promise<TraceContext | null> {
    const req = request(`${baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(traceparent ? { traceparent } : {}) },
    });
    const answered = new Promise<IncomingMessage>((resolve, reject) => {
      req.once('response', resolve).once('error', reject);
    });
    req.flushHeaders();
    await setTimeout(30);
    req.end(JSON.stringify({ some: 'body' }));
    const res = await answered;
    expect(res.statusCode).toBe(201);
    return JSON.parse(await text(res)) as TraceContext | null;
  }

  const ids = () => ({ traceId: randomBytes(16).toString('hex'), spanId: randomBytes(8).toString('hex') });

  it('joins a sampled trace, keeps it past the body read, and records the span by route', async () => {
    const parent = ids();
    const seen = await post('/v1/things/7', `00-${parent.traceId}-${parent.spanId}-01`);
    expect(seen).toMatchObject({ traceId: parent.traceId, traceFlags: 1 });
    const [span] = exporter.getFinishedSpans();
    expect(span?.name).toBe('POST /v1/things/:id');
    expect(span?.spanContext().spanId).toBe(seen?.spanId);
    expect(span?.parentSpanContext?.spanId).toBe(parent.spanId);
    expect(span?.attributes['http.response.status_code']).toBe(201);
  });

  it('keeps an unsampled trace context past the body read, sampled flag off, with no span recorded', async () => {
    const parent = ids();
    const seen = await post('/v1/things/7', `00-${parent.traceId}-${parent.spanId}-00`);
    expect(seen).toMatchObject({ traceId: parent.traceId, traceFlags: 0 });
    expect(seen?.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(seen?.spanId).not.toBe(parent.spanId);
    expect(exporter.getFinishedSpans()).toEqual([]);
  });

  it('starts no trace for an ignored request', async () => {
    expect(await post('/quiet')).toBeNull();
    expect(exporter.getFinishedSpans()).toEqual([]);
  });
});
