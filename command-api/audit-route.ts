/** GET /v1/audit: the audit trail for admins (platform/audit.ts), keyset-paginated, newest first. */
import { Router } from 'express';
import type { PgAuditTrail } from '../platform/audit.ts';
import { requireRole } from '../platform/http/auth.ts';
import { parseOrThrow } from '../platform/http/zod-problem.ts';
import { auditRoute } from './route-specs.ts';
import { methodNotAllowed } from './routes.ts';

export function auditRoutes(trail: Pick<PgAuditTrail, 'list'>): Router {
  const router = Router();
  router
    .route(auditRoute.path)
    .get(requireRole(...auditRoute.auth.roles), async (req, res) => {
      const q = parseOrThrow(auditRoute.query, req.query, 'bad_parameter');
      const page = await trail.list({
        actorId: q.actorId,
        action: q.action,
        subjectType: q.subjectType,
        subjectId: q.subjectId,
        before: q.cursor,
        limit: q.limit,
      });
      res.setHeader('Cache-Control', 'private, no-store');
      res.json({ items: page.items, nextCursor: page.next });
    })
    .all(methodNotAllowed('GET'));
  return router;
}
