/**
 * A rush-mode booking whose produce failed (Kafka down or slow: 503) must not leave its
 * `booking_requests` row behind (docs/adr/0015 §11). The accept path removes the row while it is
 * still `pending`: its key is released, so no retry would ever name it again, and a record that
 * reaches the topic after all finds no open request and is skipped by the processor — the 503
 * stays true. If the processor already decided it (the record landed, only the acknowledgement was
 * late), the row is final and is returned: the client gets that outcome instead of a 503.
 * Rows a crashed instance left `pending` are the request processor's sweeper's (requests/pending-sweeper.ts).
 */
import type { RequestOutcome } from '../requests/request-message.ts';
import type { Queryable } from '../platform/pg.ts';

export interface RequestRow {
  request_id: string;
  appointment_id: string;
  schedule_id: string;
  status: 'pending' | 'queued' | 'booked' | 'rejected';
  outcome: RequestOutcome | null;
  checkpoint: string | null;
}

/** Removes the request if still pending; returns it when it was decided meanwhile. */
export async function dropUnqueued(db: Queryable, requestId: string): Promise<RequestRow | undefined> {
  const removed = await db.query(
    `DELETE FROM booking_requests WHERE request_id = $1 AND status = 'pending'`,
    [requestId],
  );
  if (removed.rowCount === 1) return undefined;
  const { rows } = await db.query<RequestRow>(
    `SELECT request_id, appointment_id, schedule_id, status, outcome, checkpoint
       FROM booking_requests WHERE request_id = $1 AND status IN ('booked', 'rejected')`,
    [requestId],
  );
  return rows[0];
}
