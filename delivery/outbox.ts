/**
 * The delivery outbox (migration 013, docs/adr/0016): queueing an event with the next gap-free
 * sequence number of its institution, and the sender's reads and writes of one institution's queue.
 */
import type { Pool, Queryable } from '../platform/pg.ts';
import type { DeliveryDraft, ScheduleSession } from './delivered-events.ts';

/** The session of a schedule from its first event (ScheduleOpened, revision 0); undefined if unknown. */
export async function sessionOf(db: Queryable, scheduleId: string): Promise<ScheduleSession | undefined> {
  const { rows } = await db.query<{ data: Record<string, string> }>(
    `SELECT data FROM events
      WHERE stream_id = $1 AND stream_revision = 0 AND event_type = 'ScheduleOpened'`,
    [`schedule-${scheduleId}`],
  );
  const d = rows[0]?.data;
  if (!d?.institutionId) return undefined;
  return {
    institutionId: d.institutionId,
    doctorId: d.doctorId ?? '',
    departmentId: d.departmentId ?? '',
    date: d.date ?? '',
    period: d.period ?? '',
    sessionStartsAt: d.sessionStartsAt ?? '',
  };
}

export async function isIntegrated(db: Queryable, institutionId: string): Promise<boolean> {
  const { rowCount } = await db.query('SELECT 1 FROM institution_endpoints WHERE institution_id = $1', [
    institutionId,
  ]);
  return (rowCount ?? 0) > 0;
}

export interface Enqueue {
  institutionId: string;
  eventId: string;
  globalPosition: string;
  traceparent: string | undefined;
  draft: DeliveryDraft;
}

/**
 * Inside the caller's transaction: the event's delivery with its institution's next number, or
 * nothing when the event already has one (a redelivered record). The sequence row's lock orders
 * concurrent writers, and a rolled-back transaction gives its number back: no gaps. Two writers
 * of the same event (a rebalance) meet on the UNIQUE event_id: the second one's transaction fails
 * and is retried, finding the row.
 */
export async function enqueue(db: Queryable, e: Enqueue): Promise<number | undefined> {
  // One round trip: the number is taken only when the event has no row yet.
  const { rows } = await db.query<{ seq: string }>(
    `WITH next AS (
       INSERT INTO delivery_sequences AS s (institution_id, last_seq)
       SELECT $1, 1 WHERE NOT EXISTS (SELECT 1 FROM delivery_outbox WHERE event_id = $2)
       ON CONFLICT (institution_id) DO UPDATE SET last_seq = s.last_seq + 1
       RETURNING last_seq)
     INSERT INTO delivery_outbox (institution_id, seq, event_id, global_position, event_type, payload, traceparent)
     SELECT $1, last_seq, $2, $3, $4, $5, $6 FROM next
     RETURNING seq`,
    [e.institutionId, e.eventId, e.globalPosition, e.draft.type, e.draft, e.traceparent ?? null],
  );
  return rows[0] ? Number(rows[0].seq) : undefined;
}

export interface QueuedDelivery {
  institutionId: string;
  seq: number;
  eventId: string;
  status: 'pending' | 'parked';
  draft: DeliveryDraft;
  traceparent: string | undefined;
  attempts: number;
  firstAttemptAt: Date | undefined;
  nextAttemptAt: Date;
}

interface Row {
  institution_id: string;
  seq: string;
  event_id: string;
  status: 'pending' | 'parked';
  payload: DeliveryDraft;
  traceparent: string | null;
  attempts: number;
  first_attempt_at: Date | null;
  next_attempt_at: Date;
}

/** The institution's first `limit` deliveries not yet delivered (pending or parked), in order. */
export async function headsOf(
  db: Queryable,
  institutionId: string,
  limit: number,
): Promise<QueuedDelivery[]> {
  const { rows } = await db.query<Row>(
    `SELECT institution_id, seq, event_id, status, payload, traceparent, attempts, first_attempt_at, next_attempt_at
       FROM delivery_outbox WHERE institution_id = $1 AND status <> 'delivered' ORDER BY seq LIMIT $2`,
    [institutionId, limit],
  );
  return rows.map((r) => ({
    institutionId: r.institution_id,
    seq: Number(r.seq),
    eventId: r.event_id,
    status: r.status,
    draft: r.payload,
    traceparent: r.traceparent ?? undefined,
    attempts: r.attempts,
    firstAttemptAt: r.first_attempt_at ?? undefined,
    nextAttemptAt: r.next_attempt_at,
  }));
}

export async function markDelivered(db: Queryable, d: QueuedDelivery): Promise<void> {
  await db.query(
    `UPDATE delivery_outbox SET status = 'delivered', attempts = attempts + 1, delivered_at = now(),
            first_attempt_at = coalesce(first_attempt_at, now()), last_error = NULL
      WHERE institution_id = $1 AND seq = $2`,
    [d.institutionId, d.seq],
  );
}

/** A failed attempt: try again at `nextAttemptAt`, or park. `counts`: false for a refusal that never left (breaker open). */
export async function markFailed(
  db: Queryable,
  d: QueuedDelivery,
  f: { error: string; nextAttemptAt: Date; park: boolean; counts: boolean },
): Promise<void> {
  await db.query(
    `UPDATE delivery_outbox SET status = $3, attempts = attempts + $4, last_error = $5, next_attempt_at = $6,
            first_attempt_at = coalesce(first_attempt_at, now())
      WHERE institution_id = $1 AND seq = $2`,
    [
      d.institutionId,
      d.seq,
      f.park ? 'parked' : 'pending',
      f.counts ? 1 : 0,
      f.error.slice(0, 500),
      f.nextAttemptAt,
    ],
  );
}

/** Parked deliveries back to pending, due now, with a fresh attempt budget; how many. */
export async function replayParked(db: Queryable, institutionId: string): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE delivery_outbox SET status = 'pending', attempts = 0, first_attempt_at = NULL, next_attempt_at = now()
      WHERE institution_id = $1 AND status = 'parked'`,
    [institutionId],
  );
  return rowCount ?? 0;
}

/**
 * Holds (or renews) the right to send the institution's deliveries until now + leaseMs; false while
 * another worker holds it. One sender per institution keeps its deliveries in order.
 */
export async function claimLease(
  db: Queryable,
  institutionId: string,
  me: string,
  leaseMs: number,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO delivery_sequences AS s (institution_id, last_seq, leased_by, leased_until)
     VALUES ($1, 0, $2, now() + $3 * interval '1 millisecond')
     ON CONFLICT (institution_id) DO UPDATE SET leased_by = EXCLUDED.leased_by, leased_until = EXCLUDED.leased_until
      WHERE s.leased_by = $2 OR s.leased_until IS NULL OR s.leased_until < now()`,
    [institutionId, me, leaseMs],
  );
  return (rowCount ?? 0) > 0;
}

export async function releaseLease(db: Queryable, institutionId: string, me: string): Promise<void> {
  await db.query(
    `UPDATE delivery_sequences SET leased_by = NULL, leased_until = NULL WHERE institution_id = $1 AND leased_by = $2`,
    [institutionId, me],
  );
}

export interface QueueStats {
  institutionId: string;
  lastSeq: number;
  pending: number;
  parked: number;
  /** Age of the oldest delivery not yet delivered, seconds (0: none). */
  lagSeconds: number;
  lastError: string | undefined;
}

/** Every integrated institution's queue, from the partial index of open deliveries. */
export async function queueStats(pool: Pool, institutionIds?: readonly string[]): Promise<QueueStats[]> {
  const { rows } = await pool.query<{
    institution_id: string;
    last_seq: string | null;
    pending: string;
    parked: string;
    lag: number | null;
    last_error: string | null;
  }>(
    `SELECT e.institution_id, s.last_seq,
            count(o.seq) FILTER (WHERE o.status = 'pending') AS pending,
            count(o.seq) FILTER (WHERE o.status = 'parked') AS parked,
            extract(epoch FROM now() - min(o.created_at))::float8 AS lag,
            (array_agg(o.last_error ORDER BY o.seq) FILTER (WHERE o.last_error IS NOT NULL))[1] AS last_error
       FROM institution_endpoints e
       LEFT JOIN delivery_sequences s ON s.institution_id = e.institution_id
       LEFT JOIN delivery_outbox o ON o.institution_id = e.institution_id AND o.status <> 'delivered'
      WHERE $1::text[] IS NULL OR e.institution_id = ANY($1)
      GROUP BY e.institution_id, s.last_seq ORDER BY e.institution_id`,
    [institutionIds ?? null],
  );
  return rows.map((r) => ({
    institutionId: r.institution_id,
    lastSeq: Number(r.last_seq ?? 0),
    pending: Number(r.pending),
    parked: Number(r.parked),
    lagSeconds: r.lag ?? 0,
    lastError: r.last_error ?? undefined,
  }));
}
