/**
 * The server span's name by route (issue 12): with no express instrumentation, our server span
 * (platform/http-server-span.ts) is named from Express's own `req.route` when the response ends. A real Express app and router answer a real request here;
 * an SDK tracer provider with an in-memory exporter stands in for the preload.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  AlwaysOffSampler,
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import express, { Router } from 'express';
import { describe, expect, it } from 'vitest';
import { listen } from '../../platform/http/server.ts';
import { endServerSpan, routeOf } from '../../platform/http-server-span.ts';

interface Served {
  req: IncomingMessage;
  res: ServerResponse;
}

/** Serves one request through an app with a mounted router; the request as it stands when its response closes. */
async function routedRequest(path: string): Promise<Served> {
  const app = express();
  const router = Router();
  router.post('/v1/appointments/:appointmentId/cancel', (_req, res) => void res.status(204).end());
  app.use(router);
  const server = await listen(app, 0, '127.0.0.1');
  try {
    const closed = new Promise<Served>((resolve) =>
      server.once('request', (req: IncomingMessage, res: ServerResponse) =>
        res.once('close', () => resolve({ req, res })),
      ),
    );
    const { port } = server.address() as { port: number };
    await fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST' });
    return await closed;
  } finally {
    server.close();
  }
}

describe('the server span named by its route', () => {
  it('reads the route Express matched, with its parameters as a template', async () => {
    const { req } = await routedRequest('/v1/appointments/a1b2/cancel');
    expect(routeOf(req)).toBe('/v1/appointments/:appointmentId/cancel');
  });

  it('has no route for a request no route matched', async () => {
    expect(routeOf((await routedRequest('/v1/nowhere')).req)).toBeUndefined();
  });

  it('names a recorded span `METHOD route` with http.route and its status, and ends it', async () => {
    const { req, res } = await routedRequest('/v1/appointments/a1b2/cancel');
    const exporter = new InMemorySpanExporter();
    const tracer = new BasicTracerProvider({
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    }).getTracer('test');
    const span = tracer.startSpan('POST');
    endServerSpan(span, req, res);
    const [finished] = exporter.getFinishedSpans();
    expect(finished?.name).toBe('POST /v1/appointments/:appointmentId/cancel');
    expect(finished?.attributes['http.route']).toBe('/v1/appointments/:appointmentId/cancel');
    expect(finished?.attributes['http.response.status_code']).toBe(204);

    const unsampled = new BasicTracerProvider({ sampler: new AlwaysOffSampler() })
      .getTracer('test')
      .startSpan('POST');
    expect(() => endServerSpan(unsampled, req, res)).not.toThrow();
    expect(unsampled.isRecording()).toBe(false);
  });
});
