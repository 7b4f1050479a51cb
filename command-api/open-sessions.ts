/**
 * `open_sessions` (infra/migrations/004): at most one open schedule per doctor session
 * (doctor, date, period). Rows change in the transaction of the events that open and close
 * schedules, so the table and the streams never disagree; its primary key is what makes the rule
 * hold when two opens of the same session race (the stream check cannot: they are two streams).
 */
import type { ScheduleStreamEvent } from '../domain/slot-state.ts';
import type { Queryable } from '../platform/pg.ts';

export interface Session {
  doctorId: string;
  date: string;
  period: string;
}

/** Another schedule is open for the session: the command must not commit. */
export class SessionTakenError extends Error {
  readonly session: Session;
  readonly scheduleId: string | undefined;

  constructor(session: Session, scheduleId: string | undefined) {
    super(`doctor ${session.doctorId} already has a schedule open on ${session.date} ${session.period}`);
    this.name = 'SessionTakenError';
    this.session = session;
    this.scheduleId = scheduleId;
  }
}

export class PgOpenSessions {
  /**
   * Inside the transaction that appends `events` (`db` is its handle): claims the session of a
   * ScheduleOpened, frees the one of a ScheduleClosed. Throws SessionTakenError when the session
   * is held by another schedule: the caller rolls the transaction back.
   */
  async apply(db: Queryable, events: readonly ScheduleStreamEvent[]): Promise<void> {
    for (const e of events) {
      if (e.type === 'ScheduleOpened') await this.#claim(db, e.data);
      else if (e.type === 'ScheduleClosed') await this.#release(db, e.data.scheduleId);
    }
  }

  async #claim(db: Queryable, s: Session & { scheduleId: string }): Promise<void> {
    // ON CONFLICT waits for a racing transaction that holds the key: its commit makes this one a
    // no-op (taken), its rollback lets this insert go ahead.
    const { rowCount } = await db.query({
      name: 'open_sessions_claim',
      text: `INSERT INTO open_sessions (doctor_id, date, period, schedule_id) VALUES ($1, $2, $3, $4)
             ON CONFLICT (doctor_id, date, period) DO NOTHING`,
      values: [s.doctorId, s.date, s.period, s.scheduleId],
    });
    if (rowCount === 1) return;
    const { rows } = await db.query<{ schedule_id: string }>({
      name: 'open_sessions_holder',
      text: 'SELECT schedule_id FROM open_sessions WHERE doctor_id = $1 AND date = $2 AND period = $3',
      values: [s.doctorId, s.date, s.period],
    });
    throw new SessionTakenError(
      { doctorId: s.doctorId, date: s.date, period: s.period },
      rows[0]?.schedule_id,
    );
  }

  async #release(db: Queryable, scheduleId: string): Promise<void> {
    await db.query({
      name: 'open_sessions_release',
      text: 'DELETE FROM open_sessions WHERE schedule_id = $1',
      values: [scheduleId],
    });
  }
}
