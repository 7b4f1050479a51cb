/**
 * The flow-control admin routes as data (issue 16, stage 2); flow-admin-route.ts registers them.
 * Kept apart from route-specs.ts so the two change independently.
 */
import { z } from 'zod';
import { defineRoute, type RouteSpec } from '../platform/http/api-spec.ts';
import type { ErrorCode } from '../platform/http/errors.ts';
import { flowView, storedRulesView } from '../platform/flow/admin-view.ts';
import { flowRulesSchema } from '../platform/flow/rules.ts';

const noParams = z.strictObject({});
const ADMIN_PROBLEMS: readonly ErrorCode[] = [
  'unauthenticated',
  'forbidden',
  'flow_limited',
  'internal',
  'system_overloaded',
];

export const getFlowRulesRoute = defineRoute({
  method: 'get',
  path: '/v1/admin/flow-rules',
  operationId: 'getFlowRules',
  summary: 'The flow rules this instance applies (admins only)',
  description:
    'Version 0 with source `default` is the file default (nothing stored); a replacement reaches every instance within 2 s.',
  tag: 'flow control',
  auth: { roles: ['admin'] },
  requestHeaders: [{ name: 'traceparent' }],
  params: noParams,
  responses: { 200: { description: 'The rules and their version', body: storedRulesView } },
  problems: ADMIN_PROBLEMS,
});

export const putFlowRulesBody = z.strictObject({
  version: z.number().int().min(0).describe('The version read with GET (optimistic concurrency)'),
  rules: flowRulesSchema,
});

export const putFlowRulesRoute = defineRoute({
  method: 'put',
  path: '/v1/admin/flow-rules',
  operationId: 'replaceFlowRules',
  summary: 'Replace the flow rules of every instance (admins only)',
  description:
    'Validated as a whole (422 flow_rules_invalid names each bad field); stored in Redis only if `version` is still the current one (else 409 flow_rules_version_conflict: read again, reapply the change). Every instance applies the new rules within 2 s, keeping the state of rules that did not change.',
  tag: 'flow control',
  auth: { roles: ['admin'] },
  requestHeaders: [{ name: 'traceparent' }],
  params: noParams,
  body: putFlowRulesBody,
  responses: { 200: { description: 'Stored; this instance applies them already', body: storedRulesView } },
  problems: [
    ...ADMIN_PROBLEMS,
    'malformed_json',
    'unsupported_media_type',
    'payload_too_large',
    'flow_rules_invalid',
    'flow_rules_version_conflict',
    'dependency_unavailable',
  ],
});

export const getFlowRoute = defineRoute({
  method: 'get',
  path: '/v1/admin/flow',
  operationId: 'getFlowState',
  summary: 'Live flow-control figures, rules and breaker states of this instance (admins only)',
  tag: 'flow control',
  auth: { roles: ['admin'] },
  requestHeaders: [{ name: 'traceparent' }],
  params: noParams,
  responses: { 200: { description: 'Figures over the sliding window', body: flowView } },
  problems: ADMIN_PROBLEMS,
});

export const flowAdminRoutes: readonly RouteSpec[] = [getFlowRulesRoute, putFlowRulesRoute, getFlowRoute];
