/**
 * A route declared once: method, path, zod schemas, headers and problems. The routers register
 * handlers from these objects (parsing with the same schemas) and openapi.ts writes the document
 * from them, so the two cannot drift; tests/int/openapi-contract.int.spec.ts checks both ways.
 */
import type { z } from 'zod';
import type { Role } from './auth.ts';
import type { ErrorCode } from './errors.ts';
import type { RequestHeaderName, ResponseHeaderName } from './api-headers.ts';

export interface ResponseSpec {
  description: string;
  /** application/json body (a zod schema); `content` for other media types. */
  body?: z.ZodType;
  content?: readonly { type: string; schema?: Record<string, unknown> }[];
  /** Headers this response carries (trace headers are added to every response). */
  headers?: readonly ResponseHeaderName[];
  /** Of `headers`, those always present. */
  requiredHeaders?: readonly ResponseHeaderName[];
}

export interface RouteSpec<
  P extends z.ZodType = z.ZodType,
  Q extends z.ZodType = z.ZodType,
  B extends z.ZodType = z.ZodType,
> {
  method: 'get' | 'post' | 'put';
  /** Express syntax (`/v1/schedules/:scheduleId/close`), the full path from the app's root. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  /** Bearer JWT required, and (when set) the roles allowed. */
  auth?: { roles: readonly Role[] };
  params?: P;
  query?: Q;
  body?: B;
  /** Whether a body must be sent (default true when `body` is set). */
  bodyRequired?: boolean;
  requestHeaders?: readonly { name: RequestHeaderName; required?: boolean }[];
  responses: Record<number, ResponseSpec>;
  /** Every problem code this route may answer with (its status comes from the catalogue). */
  problems: readonly ErrorCode[];
  /**
   * The answer may be held while an outcome is awaited (a long poll): such a request holds no CPU
   * while it waits, so it stays out of system protection and its in-flight count (ADR 0025).
   */
  longPoll?: boolean;
}

/** Checks a route's shape while keeping its exact type (its schemas type the handler). */
export const defineRoute = <S extends RouteSpec>(spec: S): S => spec;

/** `/v1/schedules/:scheduleId` → `/v1/schedules/{scheduleId}`. */
export const openApiPath = (expressPath: string): string => expressPath.replace(/:(\w+)/g, '{$1}');
