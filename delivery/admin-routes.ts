/**
 * The delivery worker's admin API on its public port (docs/adr/0016), admin tokens only:
 *   GET  /v1/admin/deliveries                          every integrated institution's queue
 *   POST /v1/admin/deliveries/{institutionId}/replay   parked deliveries back to pending, in order
 *                                                      (audited, `deliveries.replay`)
 * Errors are the platform's problem+json (platform/http/errors.ts).
 */
import { Router } from 'express';
import { PgAuditTrail } from '../platform/audit.ts';
import { authenticate, type JwtInput, principalOf, requireRole } from '../platform/http/auth.ts';
import { AppError } from '../platform/http/errors.ts';
import { type Pool, withTransaction } from '../platform/pg.ts';
import { queueStats, replayParked } from './outbox.ts';
import type { Senders } from './senders.ts';

const INSTITUTION_ID = /^[\w.:-]{1,128}$/;

export interface InstitutionDeliveryView {
  institutionId: string;
  lastSeq: number;
  pending: number;
  parked: number;
  lagSeconds: number;
  breaker: string;
  lastError: string | null;
}

export async function deliveriesView(pool: Pool, senders: Senders): Promise<InstitutionDeliveryView[]> {
  const stats = await queueStats(pool);
  return stats.map((s) => {
    const sender = senders.get(s.institutionId);
    return {
      institutionId: s.institutionId,
      lastSeq: s.lastSeq,
      pending: s.pending,
      parked: s.parked,
      lagSeconds: Math.round(s.lagSeconds * 1000) / 1000,
      breaker: sender?.breakerState ?? 'closed',
      lastError: sender?.lastError ?? s.lastError ?? null,
    };
  });
}

export function deliveryAdminRouter(deps: { pool: Pool; senders: Senders; jwt: JwtInput }): Router {
  const router = Router();
  router.use('/v1/admin/deliveries', authenticate({ jwt: deps.jwt }), requireRole('admin'));
  router.get('/v1/admin/deliveries', async (_req, res) => {
    res.json({ institutions: await deliveriesView(deps.pool, deps.senders) });
  });
  router.post('/v1/admin/deliveries/:institutionId/replay', async (req, res) => {
    const institutionId = String(req.params.institutionId);
    if (!INSTITUTION_ID.test(institutionId)) {
      throw new AppError('bad_parameter', 'institutionId must be 1-128 letters, digits, . _ : -', {
        invalidParams: [{ name: 'institutionId', reason: 'must match ^[\\w.:-]{1,128}$' }],
      });
    }
    const [stats] = await queueStats(deps.pool, [institutionId]);
    if (!stats)
      throw new AppError(
        'institution_not_found',
        `No endpoint is configured for institution ${institutionId}`,
      );
    // The replay and its audit entry commit together: no replay the trail does not show.
    const replayed = await withTransaction(deps.pool, async (tx) => {
      const count = await replayParked(tx, institutionId);
      await new PgAuditTrail(tx).record([
        {
          actor: { role: 'admin', id: principalOf(req).sub },
          action: 'deliveries.replay',
          outcome: 'allowed',
          subject: { type: 'institution', id: institutionId },
          detail: { replayed: count },
        },
      ]);
      return count;
    });
    deps.senders.wake(institutionId);
    res.json({ institutionId, replayed });
  });
  return router;
}
