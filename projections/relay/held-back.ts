/**
 * Which transaction holds the relay back, and how far behind the relay is in time.
 *
 * readAll returns only events of transactions older than every transaction still running
 * (docs/adr/0002), so one long transaction anywhere in the cluster delays every later event,
 * committed or not. That transaction is the one whose xid is the current snapshot's xmin; it holds
 * the relay back exactly when committed events of later transactions are waiting behind it.
 */
import { decodeCheckpoint } from '../../platform/event-store/pg-event-store.ts';
import type { Checkpoint } from '../../platform/event-store/event-store.ts';
import type { Queryable } from '../../platform/pg.ts';

export interface Holder {
  pid: number;
  database: string | null;
  application: string | null;
  /** `active`, `idle in transaction` … (pg_stat_activity.state) */
  state: string | null;
  /** How long the transaction has been open. */
  ageSeconds: number;
  /** Committed events it keeps from the relay (counted up to 10,000). */
  waiting: number;
}

/**
 * The running transaction that holds the relay back, or undefined when nothing waits behind one.
 * Reads pg_stat_activity: a role without pg_read_all_stats sees other roles' sessions without
 * their database and application (the pid and age are still there).
 */
export async function relayHolder(db: Queryable): Promise<Holder | undefined> {
  const { rows } = await db.query<{
    pid: number;
    datname: string | null;
    application_name: string | null;
    state: string | null;
    age_seconds: number;
    waiting: string;
  }>(
    `WITH horizon AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin),
          waiting AS (
            SELECT count(*) AS n FROM (
              SELECT 1 FROM events, horizon WHERE events.transaction_id >= horizon.xmin LIMIT 10000
            ) w)
     SELECT a.pid, a.datname, a.application_name, a.state,
            extract(epoch FROM clock_timestamp() - a.xact_start)::float8 AS age_seconds,
            waiting.n::text AS waiting
       FROM pg_stat_activity a, horizon, waiting
      WHERE waiting.n > 0
        AND a.backend_xid IS NOT NULL
        AND a.backend_xid::text::numeric = horizon.xmin::text::numeric % 4294967296
      LIMIT 1`,
  );
  const row = rows[0];
  if (!row) return undefined;
  return {
    pid: row.pid,
    database: row.datname,
    application: row.application_name,
    state: row.state,
    ageSeconds: row.age_seconds,
    waiting: Number(row.waiting),
  };
}

export const describeHolder = (h: Holder): string =>
  `relay held back for ${h.ageSeconds.toFixed(1)} s by transaction of pid ${h.pid}` +
  ` (database ${h.database ?? '?'}, application ${h.application || '?'}, ${h.state ?? '?'}),` +
  ` ${h.waiting}${h.waiting >= 10_000 ? '+' : ''} committed event(s) waiting behind it`;

/**
 * Seconds since the oldest event the relay has not published was written (0 when none is
 * pending): how stale everything downstream is, held-back events included.
 */
export async function relayLagSeconds(db: Queryable, checkpoint: Checkpoint | undefined): Promise<number> {
  const from = checkpoint ? decodeCheckpoint(checkpoint) : { transactionId: 0n, position: 0n };
  const { rows } = await db.query<{ age: number | null }>(
    `SELECT extract(epoch FROM clock_timestamp() - min(created_at))::float8 AS age FROM (
       SELECT created_at FROM events
        WHERE (transaction_id, global_position) > ($1::xid8, $2::bigint)
        ORDER BY transaction_id, global_position LIMIT 1) oldest`,
    [String(from.transactionId), String(from.position)],
  );
  return Math.max(0, rows[0]?.age ?? 0);
}
