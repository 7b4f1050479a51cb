/**
 * The routes every API serves besides its own (health, the documentation and the problem pages),
 * declared like the API's routes so the OpenAPI document covers them too. /metrics and the
 * detailed health are on the admin port (admin.ts), not part of the public API.
 */
import { z } from 'zod';
import { defineRoute, type RouteSpec } from './api-spec.ts';
import { errorCodes } from './errors.ts';
import { problemTypeDocSchema } from './problem-pages.ts';

/** The public view: status and reasons (the checks and details are on the admin port). */
const healthBody = z.strictObject({
  status: z.enum(['ok', 'degraded', 'failing', 'ready', 'not_ready', 'starting', 'stopping']),
  reasons: z.array(z.string()).optional(),
});

const health = (path: '/healthz' | '/readyz', summary: string, unhealthy: string) =>
  defineRoute({
    method: 'get',
    path,
    operationId: path === '/healthz' ? 'liveness' : 'readiness',
    summary,
    tag: 'operations',
    responses: {
      200: { description: 'Healthy (liveness may say `degraded` with reasons)', body: healthBody },
      503: { description: unhealthy, body: healthBody },
    },
    problems: [],
  });

export const problemCodeParams = z.strictObject({ code: z.enum(errorCodes as [string, ...string[]]) });

export const opsRoutes: readonly RouteSpec[] = [
  health('/healthz', 'Liveness', 'The process should be restarted (a loop of its own died)'),
  health('/readyz', 'Readiness', 'Not ready: starting, stopping or a dependency is unavailable'),
  defineRoute({
    method: 'get',
    path: '/openapi.json',
    operationId: 'openApiDocument',
    summary: 'This OpenAPI 3.1 document',
    tag: 'documentation',
    responses: {
      200: {
        description: 'The document',
        content: [{ type: 'application/json', schema: { type: 'object' } }],
      },
    },
    problems: [],
  }),
  defineRoute({
    method: 'get',
    path: '/docs',
    operationId: 'apiDocs',
    summary: 'Browsable documentation (Swagger UI) of this document',
    tag: 'documentation',
    responses: { 200: { description: 'HTML page', content: [{ type: 'text/html' }] } },
    problems: [],
  }),
  defineRoute({
    method: 'get',
    path: '/problems/:code',
    operationId: 'problemType',
    summary: 'What a problem type means and what a client should do',
    description:
      'The page each problem `type` URI points at: HTML by default, JSON with `Accept: application/json`.',
    tag: 'documentation',
    params: problemCodeParams,
    responses: {
      200: {
        description: 'The problem type',
        body: problemTypeDocSchema,
        content: [{ type: 'text/html' }],
      },
    },
    problems: ['not_found'],
  }),
];
