/**
 * `deadlines` (infra/migrations/009, docs/adr/0012 §3): written in the transaction of the events
 * that set and settle them, and claimed by the poller (deadline-poller.ts) when due.
 */
import { type Deadline, deadlineChangesOf } from '../domain/deadlines.ts';
import type { ScheduleStreamEvent } from '../domain/slot-state.ts';
import type { Queryable } from '../platform/pg.ts';

export type DueDeadline = Deadline & { streamId: string };

export class PgDeadlines {
  /** Inside the append's transaction: the rows `events` set, and the holds they settle deleted. */
  async apply(db: Queryable, streamId: string, events: readonly ScheduleStreamEvent[]): Promise<void> {
    const { set, settledHolds } = deadlineChangesOf(events);
    if (settledHolds.length > 0)
      await db.query({
        name: 'deadlines_settle',
        text: `DELETE FROM deadlines WHERE kind = 'hold_expiry' AND subject = ANY($1::text[])`,
        values: [settledHolds],
      });
    if (set.length > 0)
      await db.query({
        name: 'deadlines_set',
        text: `INSERT INTO deadlines (kind, subject, due_at, stream_id)
               SELECT k, s, d, $4 FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS u(k, s, d)
               ON CONFLICT DO NOTHING`,
        values: [set.map((d) => d.kind), set.map((d) => d.subject), set.map((d) => d.dueAt), streamId],
      });
  }

  /**
   * Claims up to `limit` rows due at `now` (the poller's clock, the one the decider judges the
   * command with) that nobody holds, or whose holder's lease ran out (the database's clock), for
   * `leaseSeconds`: one autocommitted statement; SKIP LOCKED keeps two pollers off the same rows.
   */
  async claimDue(
    db: Queryable,
    me: string,
    now: Date,
    leaseSeconds: number,
    limit = 100,
  ): Promise<DueDeadline[]> {
    const { rows } = await db.query<{
      kind: Deadline['kind'];
      subject: string;
      due_at: Date;
      stream_id: string;
    }>({
      name: 'deadlines_claim',
      text: `UPDATE deadlines SET claimed_until = now() + make_interval(secs => $2), claimed_by = $1
             WHERE (kind, subject, due_at) IN (
               SELECT kind, subject, due_at FROM deadlines
               WHERE due_at <= $4 AND (claimed_until IS NULL OR claimed_until < now())
               ORDER BY due_at LIMIT $3 FOR UPDATE SKIP LOCKED)
             RETURNING kind, subject, due_at, stream_id`,
      values: [me, leaseSeconds, limit, now],
    });
    return rows.map((r) => ({
      kind: r.kind,
      subject: r.subject,
      dueAt: r.due_at.toISOString(),
      streamId: r.stream_id,
    }));
  }

  /** A deadline whose command was decided (a no-op, or one the events did not settle): done. */
  async remove(db: Queryable, d: Deadline): Promise<void> {
    await db.query({
      name: 'deadlines_remove',
      text: 'DELETE FROM deadlines WHERE kind = $1 AND subject = $2 AND due_at = $3',
      values: [d.kind, d.subject, d.dueAt],
    });
  }

  /** Due and not fired yet (a metric: it should stay near zero). */
  async overdue(db: Queryable, graceSeconds: number): Promise<number> {
    const { rows } = await db.query<{ n: string }>({
      name: 'deadlines_overdue',
      text: `SELECT count(*) AS n FROM deadlines WHERE due_at <= now() - make_interval(secs => $1)`,
      values: [graceSeconds],
    });
    return Number(rows[0]?.n ?? 0);
  }

  /** Gives back a claim (the command could not be decided yet): the next poll may take it again. */
  async unclaim(db: Queryable, d: Deadline, me: string): Promise<void> {
    await db.query({
      name: 'deadlines_unclaim',
      text: `UPDATE deadlines SET claimed_until = NULL, claimed_by = NULL
             WHERE kind = $1 AND subject = $2 AND due_at = $3 AND claimed_by = $4`,
      values: [d.kind, d.subject, d.dueAt, me],
    });
  }
}
