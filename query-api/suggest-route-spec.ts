/** The suggest endpoint as data (schemas and OpenAPI), apart from its handler (suggest-route.ts). */
import { z } from 'zod';
import { defineRoute } from '../platform/http/api-spec.ts';

export const suggestQuery = z.strictObject({
  q: z.string().trim().min(1).max(32),
  city: z.string().trim().min(1).max(32).optional(),
  limit: z.coerce.number().int().min(1).max(10).default(8),
});

export const suggestions = z.strictObject({
  items: z.array(
    z.strictObject({ id: z.int(), name: z.string(), city: z.string(), level: z.string().nullable() }),
  ),
});

export const suggestInstitutionsRoute = defineRoute({
  method: 'get',
  path: '/v1/search/suggest',
  operationId: 'suggestInstitutions',
  summary:
    'As-you-type institution suggestions (name, alias, pinyin or initials prefix), optionally in a city',
  tag: 'catalog',
  query: suggestQuery,
  requestHeaders: [{ name: 'traceparent' }],
  responses: {
    200: { description: 'Suggestions, best first', body: suggestions, headers: ['Cache-Control'] },
  },
  problems: ['bad_parameter', 'flow_limited', 'internal', 'dependency_unavailable', 'system_overloaded'],
});
