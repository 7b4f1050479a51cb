/**
 * The outbox tables (infra/migrations/011): plans written by the feeder in its checkpoint's
 * transaction, due notifications claimed by the sender like deadlines are (FOR UPDATE SKIP LOCKED,
 * then a lease), and their outcome.
 */
import type { NotificationKind } from '../platform/notify/provider.ts';
import type { Queryable } from '../platform/pg.ts';
import type { NotificationPlan } from './plan.ts';

export interface DueNotification {
  id: string;
  kind: NotificationKind;
  appointmentId: string;
  patientRef: string;
  dueAt: Date;
  payload: Record<string, unknown>;
  attempts: number;
  /** The sealed identity of the appointment's patient; null when none is known (or forgotten). */
  patientSealed: string | null;
}

export async function applyPlan(db: Queryable, plan: NotificationPlan): Promise<void> {
  for (const c of plan.contacts)
    await db.query({
      name: 'notification_contacts_add',
      text: `INSERT INTO notification_contacts (appointment_id, patient_ref, patient_sealed)
             VALUES ($1, $2, $3) ON CONFLICT (appointment_id) DO NOTHING`,
      values: [c.appointmentId, c.patientRef, c.patientSealed],
    });
  for (const n of plan.add)
    // The key makes a replayed event (a checkpoint lost with its batch) add nothing twice.
    await db.query({
      name: 'notifications_add',
      text: `INSERT INTO notifications (id, kind, appointment_id, patient_ref, due_at, status, payload)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING`,
      values: [n.id, n.kind, n.appointmentId, n.patientRef, n.dueAt, n.status, JSON.stringify(n.payload)],
    });
  for (const a of plan.arm)
    await db.query({
      name: 'notifications_arm',
      text: `UPDATE notifications SET status = 'pending'
             WHERE appointment_id = $1 AND kind = ANY($2::text[]) AND status = 'waiting'`,
      values: [a.appointmentId, a.kinds],
    });
  for (const d of plan.drop)
    await db.query({
      name: 'notifications_drop',
      text: `UPDATE notifications SET status = 'skipped', last_error = $3
             WHERE appointment_id = $1 AND kind = ANY($2::text[]) AND status IN ('waiting', 'pending')`,
      values: [d.appointmentId, d.kinds, d.reason],
    });
  for (const ref of plan.forget) {
    await db.query({
      name: 'notifications_forget',
      text: `UPDATE notifications SET status = 'skipped', last_error = 'forgotten'
             WHERE patient_ref = $1 AND status IN ('waiting', 'pending')`,
      values: [ref],
    });
    await db.query({
      name: 'notification_contacts_forget',
      text: 'DELETE FROM notification_contacts WHERE patient_ref = $1',
      values: [ref],
    });
  }
}

export async function claimDue(
  db: Queryable,
  me: string,
  now: Date,
  leaseSeconds: number,
  limit: number,
): Promise<DueNotification[]> {
  const { rows } = await db.query<{
    id: string;
    kind: NotificationKind;
    appointment_id: string;
    patient_ref: string;
    due_at: Date;
    payload: Record<string, unknown>;
    attempts: number;
    patient_sealed: string | null;
  }>({
    name: 'notifications_claim',
    text: `WITH claimed AS (
             UPDATE notifications SET claimed_until = now() + make_interval(secs => $2), claimed_by = $1
             WHERE id IN (
               SELECT id FROM notifications
               WHERE status = 'pending' AND due_at <= $4 AND (claimed_until IS NULL OR claimed_until < now())
               ORDER BY due_at LIMIT $3 FOR UPDATE SKIP LOCKED)
             RETURNING id, kind, appointment_id, patient_ref, due_at, payload, attempts)
           SELECT claimed.*, c.patient_sealed FROM claimed
           LEFT JOIN notification_contacts c ON c.appointment_id = claimed.appointment_id`,
    values: [me, leaseSeconds, limit, now],
  });
  return rows.map((r) => ({
    id: r.id,
    kind: r.kind,
    appointmentId: r.appointment_id,
    patientRef: r.patient_ref,
    dueAt: r.due_at,
    payload: r.payload,
    attempts: r.attempts,
    patientSealed: r.patient_sealed,
  }));
}

/** Sent: only by the claim's holder (one whose lease ran out and was re-claimed changes nothing). */
export async function markSent(
  db: Queryable,
  id: string,
  me: string,
  provider: string,
  messageId: string,
): Promise<void> {
  await db.query({
    name: 'notifications_sent',
    text: `UPDATE notifications SET status = 'sent', sent_at = now(), provider = $3, provider_message_id = $4,
             attempts = attempts + 1, claimed_until = NULL
           WHERE id = $1 AND claimed_by = $2 AND status = 'pending'`,
    values: [id, me, provider, messageId],
  });
}

export async function markSkipped(db: Queryable, id: string, me: string, reason: string): Promise<void> {
  await db.query({
    name: 'notifications_skipped',
    text: `UPDATE notifications SET status = 'skipped', last_error = $3, claimed_until = NULL
           WHERE id = $1 AND claimed_by = $2 AND status = 'pending'`,
    values: [id, me, reason],
  });
}

/** A failed attempt: again at `retryAt`, or failed for good once `attempts` reached `maxAttempts`. */
export async function markAttemptFailed(
  db: Queryable,
  id: string,
  me: string,
  error: string,
  retryAt: Date,
  maxAttempts: number,
): Promise<'retry' | 'failed'> {
  const { rows } = await db.query<{ status: string }>({
    name: 'notifications_attempt_failed',
    text: `UPDATE notifications SET attempts = attempts + 1, last_error = $3, claimed_until = NULL,
             due_at = $4, status = CASE WHEN attempts + 1 >= $5 THEN 'failed' ELSE 'pending' END
           WHERE id = $1 AND claimed_by = $2 AND status = 'pending'
           RETURNING status`,
    values: [id, me, error.slice(0, 500), retryAt, maxAttempts],
  });
  return rows[0]?.status === 'failed' ? 'failed' : 'retry';
}

/** Seconds the oldest due, unsent notification has waited (0: none waiting). */
export async function sendLagSeconds(db: Queryable, now: Date): Promise<number> {
  const { rows } = await db.query<{ s: number | null }>({
    name: 'notifications_lag',
    text: `SELECT extract(epoch FROM ($1::timestamptz - min(due_at)))::float8 AS s
           FROM notifications WHERE status = 'pending' AND due_at <= $1`,
    values: [now],
  });
  return Math.max(0, rows[0]?.s ?? 0);
}
