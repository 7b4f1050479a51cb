/**
 * Checks real HTTP responses against an OpenAPI 3.1 document: the status is documented for the
 * operation, every required header is present, every documented header present matches its
 * schema, and the body matches the schema of its media type (ajv, JSON Schema 2020-12).
 * Also lists the routes an Express app registers, to compare with the document's paths.
 */
import type { Express } from 'express';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { openApiPath } from '../../platform/http/api-spec.ts';

// Walking an OpenAPI document and Express internals: loosely typed on purpose.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

export interface CapturedResponse {
  status: number;
  headers: Headers;
  text: string;
}

export async function capture(res: Response): Promise<CapturedResponse> {
  return { status: res.status, headers: res.headers, text: await res.text() };
}

export function conformance(document: Json) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  const validate = (schema: Json, value: unknown, what: string) => {
    if (!ajv.validate(schema, value)) {
      throw new Error(`${what}: ${ajv.errorsText(ajv.errors)}\n${JSON.stringify(value).slice(0, 800)}`);
    }
  };
  /** `METHOD /path status` of every response checked, so a test can tell what it covered. */
  const covered = new Set<string>();

  /** Throws unless `res` is a documented response of the operation; returns it. */
  function check(method: string, template: string, res: CapturedResponse): CapturedResponse {
    const what = `${method.toUpperCase()} ${template} → ${res.status}`;
    const operation = document.paths?.[template]?.[method.toLowerCase()] as Json | undefined;
    if (!operation) throw new Error(`${what}: operation not in the document`);
    const response = operation.responses?.[String(res.status)] as Json | undefined;
    if (!response)
      throw new Error(
        `${what}: status not documented (${Object.keys(operation.responses as Json).join(', ')})`,
      );
    covered.add(`${method.toUpperCase()} ${template} ${res.status}`);
    for (const [name, header] of Object.entries((response.headers ?? {}) as Record<string, Json>)) {
      const value = res.headers.get(name);
      if (value === null) {
        if (header.required) throw new Error(`${what}: required header ${name} missing`);
        continue;
      }
      validate(
        header.schema as Json,
        header.schema.type === 'integer' ? Number(value) : value,
        `${what} header ${name}`,
      );
    }
    const content = response.content as Record<string, Json> | undefined;
    if (!content) {
      if (res.text !== '') throw new Error(`${what}: a body where none is documented`);
      return res;
    }
    const mediaType = (res.headers.get('content-type') ?? '').split(';')[0]!.trim();
    const media = content[mediaType];
    if (!media)
      throw new Error(`${what}: content type ${mediaType} not in ${Object.keys(content).join(', ')}`);
    if (media.schema) validate(media.schema as Json, JSON.parse(res.text), `${what} body`);
    return res;
  }

  return { check, covered };
}

export type Conformance = ReturnType<typeof conformance>;

/** The statuses checked of each operation (`METHOD /path`), from a conformance's `covered`. */
export function coveredStatuses(covered: ReadonlySet<string>): Map<string, number[]> {
  const statuses = new Map<string, number[]>();
  for (const entry of covered) {
    const at = entry.lastIndexOf(' ');
    const operation = entry.slice(0, at);
    statuses.set(operation, [...(statuses.get(operation) ?? []), Number(entry.slice(at + 1))]);
  }
  return statuses;
}

/** `METHOD /openapi/{path}` of every route an Express app (and the routers it mounts at /) registers. */
export function registeredRoutes(app: Express): string[] {
  const out: string[] = [];
  const walk = (stack: Json[]) => {
    for (const layer of stack) {
      if (layer.route) {
        const paths: string[] = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
        const methods = Object.keys(layer.route.methods as Json).filter((m) => m !== '_all');
        for (const path of paths)
          for (const m of methods) out.push(`${m.toUpperCase()} ${openApiPath(path)}`);
      } else if (Array.isArray(layer.handle?.stack)) {
        // Only routers mounted at the root hold full paths; the apps mount no router elsewhere.
        if (!layer.slash) throw new Error('a router mounted below / : its routes would need the mount path');
        walk(layer.handle.stack as Json[]);
      }
    }
  };
  walk((app as unknown as { router: { stack: Json[] } }).router.stack);
  return [...new Set(out)].sort();
}

export function documentedRoutes(document: Json): string[] {
  return Object.entries(document.paths as Record<string, Json>)
    .flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`))
    .sort();
}
