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
  /** Its transaction id (pg_stat_activity.backend_xid): with the pid, what identifies it. */
  xid: string;
  database: string | null;
  application: string | null;
  /** `active`, `idle in transaction` … (pg_stat_activity.state); null when hidden from this role. */
  state: string | null;
  /**
   * How long the transaction has been open (pg_stat_activity.xact_start); null when hidden from
   * this role: another role's session, read without pg_read_all_stats (the platform's `booking`).
   */
  ageSeconds: number | null;
  /** Committed events it keeps from the relay (counted up to 10,000). */
  waiting: number;
}

/** A holder with the age the budget, the gauge and the health reason go by. */
export interface AgedHolder extends Holder {
  ageSeconds: number;
  /** Its start was hidden: the age counts from when the watcher first saw it, so it is at least this. */
  ageIsLowerBound: boolean;
}

/** When the watcher first saw this transaction (pid and xid) holding the relay back. */
export interface FirstSeen {
  pid: number;
  xid: string;
  atMs: number;
}

/**
 * Gives the holder an age: its own when PostgreSQL shows it, else the time since it was first
 * seen holding the relay back — a lower bound, but one that grows, so a long transaction of another
 * role still crosses the budget and fires the alert instead of staying invisible. Returns the
 * first-seen to keep for the next sample: the same one while the same (pid, xid) holds the relay
 * back, a new one for another transaction (a reused pid comes with a new xid), none once it is gone.
 */
export function ageHolder(
  holder: Holder | undefined,
  seen: FirstSeen | undefined,
  nowMs: number,
): { holder: AgedHolder | undefined; seen: FirstSeen | undefined } {
  if (!holder) return { holder: undefined, seen: undefined };
  const same = seen !== undefined && seen.pid === holder.pid && seen.xid === holder.xid;
  const first = same ? seen : { pid: holder.pid, xid: holder.xid, atMs: nowMs };
  const aged =
    holder.ageSeconds === null
      ? { ...holder, ageSeconds: Math.max(0, nowMs - first.atMs) / 1000, ageIsLowerBound: true }
      : { ...holder, ageSeconds: holder.ageSeconds, ageIsLowerBound: false };
  return { holder: aged, seen: first };
}

/**
 * The running transaction that holds the relay back, or undefined when nothing waits behind one.
 * Reads pg_stat_activity: a role without pg_read_all_stats (nor superuser, nor the same role) sees
 * another role's session with its pid, xid, database and application, but not its state nor when
 * its transaction started: `ageSeconds` is then null (see ageHolder).
 */
export async function relayHolder(db: Queryable): Promise<Holder | undefined> {
  const { rows } = await db.query<{
    pid: number;
    datname: string | null;
    application_name: string | null;
    state: string | null;
    backend_xid: string;
    age_seconds: number | null;
    waiting: string;
  }>(
    `WITH horizon AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin),
          waiting AS (
            SELECT count(*) AS n FROM (
              SELECT 1 FROM events, horizon WHERE events.transaction_id >= horizon.xmin LIMIT 10000
            ) w)
     SELECT a.pid, a.backend_xid::text AS backend_xid, a.datname, a.application_name, a.state,
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
    xid: row.backend_xid,
    database: row.datname,
    application: row.application_name,
    state: row.state,
    ageSeconds: row.age_seconds,
    waiting: Number(row.waiting),
  };
}

const describeAge = (h: AgedHolder): string =>
  h.ageIsLowerBound
    ? `≥ ${h.ageSeconds.toFixed(1)} s (first seen; its start is hidden from this role)`
    : `${h.ageSeconds.toFixed(1)} s`;

export const describeHolder = (h: AgedHolder): string =>
  `relay held back for ${describeAge(h)} by transaction of pid ${h.pid}` +
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
