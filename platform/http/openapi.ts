/**
 * The OpenAPI 3.1 document of an API, written from its route specs (api-spec.ts): zod schemas
 * become JSON Schema 2020-12 (OpenAPI 3.1's dialect) through zod 4's own `z.toJSONSchema`, headers
 * come from api-headers.ts, problems from the error catalogue (errors.ts).
 */
import { z } from 'zod';
import { requestHeaders, responseHeaders, type ResponseHeaderName } from './api-headers.ts';
import { openApiPath, type ResponseSpec, type RouteSpec } from './api-spec.ts';
import { catalogue, type CatalogueEntry, errorCodes, type ErrorCode, problemTypeUri } from './errors.ts';

type Json = Record<string, unknown>;

export interface ApiInfo {
  title: string;
  version: string;
  description: string;
}

/**
 * Headers of every traced response: present when the service runs with OpenTelemetry (the
 * telemetry preload) and the request is traced; a cache hit of the query API's fast path and a
 * service run without the SDK carry none, so they are documented, never required.
 */
const TRACE_HEADERS: readonly ResponseHeaderName[] = ['traceparent', 'X-Trace-Id'];

export function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Json {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Json;
  return rest;
}

export function buildOpenApiDocument(info: ApiInfo, routes: readonly RouteSpec[], problemBase: string): Json {
  const paths: Record<string, Json> = {};
  for (const route of routes) {
    const path = openApiPath(route.path);
    paths[path] = { ...paths[path], [route.method]: operation(route, problemBase) };
  }
  return {
    openapi: '3.1.1',
    info: { ...info, license: { name: 'Proprietary', identifier: 'LicenseRef-Proprietary' } },
    jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
    paths,
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description:
            'HS256 JWT with `sub`, `role` (patient, hospital or admin; a hospital also `institutionId`), `iss`, `aud`, `iat` and `exp` claims, signed under the `kid` in its header.',
        },
      },
      schemas: { Problem: problemSchema(errorCodes, problemBase) },
    },
  };
}

function operation(route: RouteSpec, problemBase: string): Json {
  const roles = route.auth ? `\n\nRoles: ${route.auth.roles.join(', ')}.` : '';
  return {
    operationId: route.operationId,
    summary: route.summary,
    description: `${route.description ?? route.summary}${roles}`,
    tags: [route.tag],
    security: route.auth ? [{ bearer: [] }] : [],
    parameters: parameters(route),
    ...(route.body ? { requestBody: requestBody(route) } : {}),
    responses: { ...successResponses(route), ...problemResponses(route, problemBase) },
    'x-problem-codes': route.problems,
  };
}

function parameters(route: RouteSpec): Json[] {
  const fromSchema = (schema: z.ZodType | undefined, where: 'path' | 'query'): Json[] => {
    if (!schema) return [];
    const object = jsonSchema(schema, 'input');
    const required = new Set((object.required as string[] | undefined) ?? []);
    return Object.entries((object.properties as Record<string, Json> | undefined) ?? {}).map(([name, s]) => ({
      name,
      in: where,
      required: where === 'path' || required.has(name),
      ...(typeof s.description === 'string' ? { description: s.description } : {}),
      schema: s,
    }));
  };
  const headers = (route.requestHeaders ?? []).map(({ name, required }) => ({
    name,
    in: 'header',
    required: required ?? false,
    description: requestHeaders[name].description,
    schema: requestHeaders[name].schema,
  }));
  return [...fromSchema(route.params, 'path'), ...fromSchema(route.query, 'query'), ...headers];
}

function requestBody(route: RouteSpec): Json {
  return {
    required: route.bodyRequired ?? true,
    content: { 'application/json': { schema: jsonSchema(route.body!, 'input') } },
  };
}

function headerObjects(names: readonly ResponseHeaderName[], required: readonly ResponseHeaderName[]): Json {
  return Object.fromEntries(
    [...new Set(names)].map((name) => [
      name,
      {
        description: responseHeaders[name].description,
        required: required.includes(name),
        schema: responseHeaders[name].schema,
      },
    ]),
  );
}

function successResponses(route: RouteSpec): Json {
  return Object.fromEntries(
    Object.entries(route.responses).map(([status, r]: [string, ResponseSpec]) => {
      const content = {
        ...(r.body ? { 'application/json': { schema: jsonSchema(r.body, 'output') } } : {}),
        ...Object.fromEntries((r.content ?? []).map((c) => [c.type, c.schema ? { schema: c.schema } : {}])),
      };
      return [
        status,
        {
          description: r.description,
          headers: headerObjects([...TRACE_HEADERS, ...(r.headers ?? [])], r.requiredHeaders ?? []),
          ...(Object.keys(content).length ? { content } : {}),
        },
      ];
    }),
  );
}

/** One response per status the route's problems map to, listing each problem with what to do. */
function problemResponses(route: RouteSpec, problemBase: string): Json {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of route.problems) {
    const status = catalogue[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const replayable = route.requestHeaders?.some((h) => h.name === 'Idempotency-Key') ?? false;
  return Object.fromEntries(
    [...byStatus].map(([status, codes]) => {
      const extra = codes.flatMap((c) => (catalogue[c] as CatalogueEntry).headers ?? []);
      const names = [
        ...TRACE_HEADERS,
        ...extra,
        ...(replayable ? ['Idempotent-Replayed'] : []),
      ] as ResponseHeaderName[];
      const list = codes
        .map(
          (c) =>
            `- [\`${c}\`](${problemTypeUri(c, problemBase)}): ${catalogue[c].title}. ${catalogue[c].clientAction}`,
        )
        .join('\n');
      return [
        String(status),
        {
          description: `Problem (RFC 9457):\n\n${list}`,
          headers: headerObjects(names, []),
          content: { 'application/problem+json': { schema: problemSchema(codes, problemBase) } },
          'x-problem-codes': codes,
        },
      ];
    }),
  );
}

/** RFC 9457 problem details as problem-middleware.ts renders them, narrowed to `codes`. */
export function problemSchema(codes: readonly ErrorCode[], problemBase: string): Json {
  const statuses = [...new Set(codes.map((c) => catalogue[c].status))];
  return {
    type: 'object',
    required: ['type', 'title', 'status', 'code'],
    properties: {
      type: {
        type: 'string',
        format: 'uri-reference',
        enum: codes.map((c) => problemTypeUri(c, problemBase)),
      },
      title: { type: 'string' },
      status: { type: 'integer', enum: statuses },
      code: { type: 'string', enum: [...codes] },
      detail: { type: 'string' },
      instance: { type: 'string', format: 'uri-reference' },
      traceId: { type: 'string', pattern: '^[0-9a-f]{32}$' },
      'invalid-params': {
        type: 'array',
        items: {
          type: 'object',
          required: ['name', 'reason'],
          properties: { name: { type: 'string' }, reason: { type: 'string' } },
          additionalProperties: false,
        },
      },
    },
    additionalProperties: false,
  };
}
