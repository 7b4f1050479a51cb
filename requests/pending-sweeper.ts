/**
 * Removes booking requests left `pending` (docs/adr/0015 §11): inserted by an API instance that
 * died between the insert and its acknowledgement from Kafka (the accept path removes its own on a
 * failed produce, command-api/rush-unqueued.ts). No client was ever told such a request was queued
 * — `queued` and the 202 commit together — so removing it breaks no promise: a retry of the key
 * takes the dead claim over and makes a new request, and a record of it that did reach the topic
 * finds no open request and is skipped. A pending request the processor is about to decide is far
 * younger than the bound (RUSH_PENDING_EXPIRE_S, default 5 minutes). Any member may sweep: the
 * DELETE is idempotent.
 */
import type { Queryable } from '../platform/pg.ts';

/** Removes up to `limit` pending requests older than `olderThanSeconds`; returns how many. */
export async function sweepPending(db: Queryable, olderThanSeconds: number, limit = 1_000): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM booking_requests WHERE request_id IN (
       SELECT request_id FROM booking_requests
        WHERE status = 'pending' AND created_at < now() - make_interval(secs => $1)
        ORDER BY created_at LIMIT $2)`,
    [olderThanSeconds, limit],
  );
  return rowCount ?? 0;
}
