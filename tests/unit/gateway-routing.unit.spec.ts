import { describe, expect, it } from 'vitest';
import { commandApiRoutes } from '../../command-api/route-specs.ts';
import { flowAdminRoutes } from '../../command-api/flow-admin-specs.ts';
import { upstreamFor } from '../../gateway/routing.ts';
import { queryApiRoutes } from '../../query-api/route-specs.ts';

/** A concrete path of a route template (`:id` → 1). */
const concrete = (path: string) => path.replace(/:[A-Za-z]+/g, '00000000-0000-4000-8000-000000000001');

describe('gateway routing table', () => {
  it('sends every command API route to the command API', () => {
    for (const route of [...commandApiRoutes, ...flowAdminRoutes]) {
      expect(upstreamFor(route.method.toUpperCase(), concrete(route.path)), route.path).toBe('command');
    }
  });

  it('sends every query API route to the query API', () => {
    for (const route of queryApiRoutes) {
      expect(upstreamFor(route.method.toUpperCase(), concrete(route.path)), route.path).toBe('query');
    }
  });

  it('sends HEAD like GET and any other write to the command API', () => {
    expect(upstreamFor('HEAD', '/v1/homepage')).toBe('query');
    expect(upstreamFor('DELETE', '/v1/appointments/x')).toBe('command');
  });
});
