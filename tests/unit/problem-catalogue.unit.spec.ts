/**
 * The error catalogue (platform/http/errors.ts) is the one source of problem types: every code the
 * code throws has an entry with its explanation and client action, its page renders from it, and
 * the OpenAPI documents list each route's problems from it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { commandApiInfo, commandApiRoutes } from '../../command-api/route-specs.ts';
import { responseHeaders } from '../../platform/http/api-headers.ts';
import { apiDocument } from '../../platform/http/api-docs.ts';
import { openApiPath } from '../../platform/http/api-spec.ts';
import { catalogue, type CatalogueEntry, errorCodes, isErrorCode } from '../../platform/http/errors.ts';
import { opsRoutes } from '../../platform/http/ops-routes.ts';
import { problemBaseFromEnv } from '../../platform/http/problem-base.ts';
import { problemTypeDoc, problemTypeHtml } from '../../platform/http/problem-pages.ts';
import { queryApiInfo, queryApiRoutes } from '../../query-api/route-specs.ts';

const root = join(import.meta.dirname, '..', '..');
const SOURCE_DIRS = [
  'command-api',
  'query-api',
  'platform',
  'projections',
  'read-models',
  'domain',
  'supervisor',
];

function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name));
}

/** Every code passed to `new AppError('…'` or `problem('…'` anywhere in the runtime sources. */
function thrownCodes(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const file of SOURCE_DIRS.flatMap(sources)) {
    for (const m of readFileSync(file, 'utf8').matchAll(/\b(?:AppError|problem)\(\s*'([a-z_]+)'/g)) {
      found.set(m[1]!, [...(found.get(m[1]!) ?? []), file.slice(root.length + 1)]);
    }
  }
  return found;
}

describe('the error catalogue', () => {
  it('has an entry for every code thrown anywhere in the code', () => {
    const thrown = thrownCodes();
    expect(thrown.size).toBeGreaterThan(20);
    for (const [code, files] of thrown)
      expect(isErrorCode(code), `${code} in ${files.join(', ')}`).toBe(true);
  });

  it('says for every code what happened and what a client should do', () => {
    for (const code of errorCodes) {
      const entry: CatalogueEntry = catalogue[code];
      expect(entry.explanation.length, code).toBeGreaterThan(20);
      expect(entry.clientAction.length, code).toBeGreaterThan(10);
      for (const header of entry.headers ?? []) expect(Object.keys(responseHeaders), code).toContain(header);
      // A problem that asks for a retry names when; one that forbids it does not promise one.
      if (entry.action === 'retry-later') expect(entry.clientAction, code).toMatch(/retry/i);
    }
  });

  it('renders each problem type page (HTML and JSON) from the catalogue', () => {
    for (const code of errorCodes) {
      const doc = problemTypeDoc(code, '/problems/');
      expect(doc).toMatchObject({ type: `/problems/${code}`, code, ...catalogue[code] });
      const html = problemTypeHtml(doc);
      expect(html).toContain(`<code>${code}</code>`);
      expect(html).toContain(String(catalogue[code].status));
    }
    expect(problemTypeHtml(problemTypeDoc('forbidden', '/p/'))).toContain('patient&#39;s appointment');
  });
});

describe('PROBLEM_BASE_URL', () => {
  it('defaults to the origin-relative /problems/ and accepts an absolute URL or a path', () => {
    expect(problemBaseFromEnv({})).toBe('/problems/');
    expect(problemBaseFromEnv({ PROBLEM_BASE_URL: 'https://api.booking.example/problems' })).toBe(
      'https://api.booking.example/problems/',
    );
    expect(problemBaseFromEnv({ PROBLEM_BASE_URL: '/api/problems/' })).toBe('/api/problems/');
    expect(() => problemBaseFromEnv({ PROBLEM_BASE_URL: 'not a url' })).toThrow(/PROBLEM_BASE_URL/);
  });
});

describe("the OpenAPI documents list each route's problems from the catalogue", () => {
  const apis = [
    { info: commandApiInfo, routes: commandApiRoutes },
    { info: queryApiInfo, routes: queryApiRoutes },
  ];
  it.each(apis)('$info.title', ({ info, routes }) => {
    const base = 'https://api.booking.example/problems/';
    const doc = apiDocument({ info, routes, problemBase: base }) as {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- walking the document
      paths: Record<string, Record<string, { 'x-problem-codes': string[]; responses: Record<string, any> }>>;
    };
    for (const route of [...routes, ...opsRoutes]) {
      const operation = doc.paths[openApiPath(route.path)]![route.method]!;
      expect(operation['x-problem-codes']).toEqual(route.problems);
      const listed = Object.entries(operation.responses).flatMap(([status, response]) => {
        const codes = (response['x-problem-codes'] ?? []) as (keyof typeof catalogue)[];
        for (const code of codes) {
          expect(catalogue[code].status, `${route.path} ${code}`).toBe(Number(status));
          expect(response.description).toContain(`(${base}${code}): ${catalogue[code].title}`);
        }
        const schema = response.content?.['application/problem+json']?.schema;
        if (codes.length) expect(schema.properties.code.enum).toEqual(codes);
        if (codes.length) expect(schema.properties.type.enum).toEqual(codes.map((c) => `${base}${c}`));
        return codes;
      });
      expect([...listed].sort(), route.path).toEqual([...route.problems].sort());
    }
  });
});
