/**
 * Flow control for admins (issue 16, stage 2): read and replace the live flow rules (Redis, every
 * instance applies them within 2 s) and see every resource's live figures and breaker state.
 *   GET /v1/admin/flow-rules   the rules applied, with their version
 *   PUT /v1/admin/flow-rules   { version, rules }: replaces them if `version` is still current
 *                              (audited, `flow_rules.replace`)
 *   GET /v1/admin/flow         statistics, rule and breaker state
 */
import { Router } from 'express';
import type { PgAuditTrail } from '../platform/audit.ts';
import { principalOf, requireRole } from '../platform/http/auth.ts';
import { AppError } from '../platform/http/errors.ts';
import { parseOrThrow } from '../platform/http/zod-problem.ts';
import { flowViewOf, type DependencyView } from '../platform/flow/admin-view.ts';
import type { FlowControl } from '../platform/flow/flow-control.ts';
import type { EventLoopSignals } from '../platform/flow/event-loop.ts';
import type { FlowRuleStore, FlowRuleWatch } from '../platform/flow/rule-store.ts';
import { getFlowRoute, getFlowRulesRoute, putFlowRulesBody } from './flow-admin-specs.ts';
import { methodNotAllowed } from './routes.ts';

export interface FlowAdminDeps {
  flow: FlowControl;
  watch: FlowRuleWatch;
  /** Absent: rules cannot be replaced (503). */
  store?: FlowRuleStore;
  /** The audit trail: every replacement, by whom, from and to which version. */
  audit?: Pick<PgAuditTrail, 'record'>;
  eventLoop: () => EventLoopSignals;
  dependencies: () => readonly DependencyView[];
}

export function flowAdminRouter(deps: FlowAdminDeps): Router {
  const router = Router();
  const admin = requireRole('admin');
  router
    .route(getFlowRulesRoute.path)
    .get(admin, (_req, res) => {
      res.setHeader('Cache-Control', 'private, no-store');
      res.json(deps.watch.current());
    })
    .put(admin, async (req, res) => {
      const body = parseOrThrow(putFlowRulesBody, req.body, 'flow_rules_invalid');
      const { store } = deps;
      if (!store) throw new AppError('dependency_unavailable', 'No rule store is configured');
      const by = principalOf(req).sub;
      const outcome = await store.replace(body.version, body.rules, by).catch((err: unknown) => {
        throw new AppError('dependency_unavailable', 'Redis, where the rules live, did not answer', {
          headers: { 'Retry-After': '1' },
          cause: err,
        });
      });
      if (!outcome.ok) {
        throw new AppError(
          'flow_rules_version_conflict',
          `The rules are at version ${outcome.currentVersion}, not ${body.version}`,
        );
      }
      // Redis and the trail share no transaction: recorded once the compare-and-set won (a refused
      // replacement changes nothing) and before the answer. Should that write fail, the rules are
      // changed but the admin gets a 500 and the error log holds it: never a silent success.
      await deps.audit?.record([
        {
          actor: { role: 'admin', id: by },
          action: 'flow_rules.replace',
          outcome: 'allowed',
          subject: { type: 'flow_rules', id: store.key },
          detail: {
            fromVersion: body.version,
            toVersion: outcome.stored.version,
            resources: Object.keys(body.rules.resources),
          },
        },
      ]);
      await deps.watch.refresh();
      res.setHeader('Cache-Control', 'private, no-store');
      res.json(outcome.stored);
    })
    .all(methodNotAllowed('GET', 'PUT'));
  router
    .route(getFlowRoute.path)
    .get(admin, (_req, res) => {
      res.setHeader('Cache-Control', 'private, no-store');
      res.json(
        flowViewOf({
          flow: deps.flow,
          stored: deps.watch.current(),
          eventLoop: deps.eventLoop(),
          dependencies: deps.dependencies(),
        }),
      );
    })
    .all(methodNotAllowed('GET'));
  return router;
}
