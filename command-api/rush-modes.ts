/**
 * Which schedules are in rush mode (docs/adr/0015): `rush_schedules`, written in the transaction
 * that appends a RushModeChanged (rush-route.ts). A booking asks here first: the schedules in rush
 * mode, read for all schedules at most once a second (`RushModes`) — a booking that arrives in the second after a switch may still take the
 * other path, which is harmless: both paths decide on the stream with its revision check.
 */
import type { RequestHandler } from 'express';
import { AppError } from '../platform/http/errors.ts';
import { isDatabaseUnavailable, type Queryable } from '../platform/pg.ts';

/** The database away: 503 with Retry-After, as every command answers (command-route.ts), never a 500. */
export const databaseUnavailableAs503 =
  (handler: RequestHandler): RequestHandler =>
  async (req, res, next) => {
    try {
      await handler(req, res, next);
    } catch (err) {
      if (!isDatabaseUnavailable(err)) throw err;
      throw new AppError('dependency_unavailable', 'The database is unavailable; retry later', {
        cause: err,
        headers: { 'Retry-After': '2' },
      });
    }
  };

export interface RushMode {
  enabled: boolean;
  institutionId: string;
}

const OFF: RushMode = { enabled: false, institutionId: '' };

export class RushModes {
  readonly #db: Queryable;
  readonly #ttlMs: number;
  /** The schedules in rush mode as of `at` (performance.now() when its query was sent). */
  #snapshot: { at: number; modes: Map<string, RushMode> } | undefined;
  /** The read in flight, shared by every booking that needs it; `generation` as when it was sent. */
  #loading: { generation: number; modes: Promise<Map<string, RushMode>> } | undefined;
  /** Bumped by `forget`: a read sent before it may predate the switch and is not kept. */
  #generation = 0;

  constructor(db: Queryable, ttlMs = 1_000) {
    this.#db = db;
    this.#ttlMs = ttlMs;
  }

  async of(scheduleId: string): Promise<RushMode> {
    return (await this.#current()).get(scheduleId) ?? OFF;
  }

  /**
   * One read of every schedule in rush mode, at most once per TTL for all schedules together — not
   * one read per schedule per TTL, which on a real timetable (thousands of schedules, each booked
   * now and then) missed for almost every booking and cost it a round trip. The bound is unchanged:
   * what a booking sees was read less than `ttlMs` before (the age counts from the query's start).
   * Rush mode is on for few schedules at a time, so the read is small.
   */
  #current(): Map<string, RushMode> | Promise<Map<string, RushMode>> {
    if (this.#snapshot && performance.now() - this.#snapshot.at < this.#ttlMs) return this.#snapshot.modes;
    if (this.#loading?.generation === this.#generation) return this.#loading.modes;
    const generation = this.#generation;
    const at = performance.now();
    const clear = () => {
      if (this.#loading?.modes === modes) this.#loading = undefined;
    };
    const modes = this.#db
      .query<{ schedule_id: string; institution_id: string }>({
        name: 'rush_modes_enabled',
        text: 'SELECT schedule_id, institution_id FROM rush_schedules WHERE enabled',
      })
      .then(
        ({ rows }) => {
          const enabled = new Map<string, RushMode>(
            rows.map((r) => [String(r.schedule_id), { enabled: true, institutionId: r.institution_id }]),
          );
          if (generation === this.#generation) this.#snapshot = { at, modes: enabled };
          clear();
          return enabled;
        },
        (err: unknown) => {
          clear();
          throw err;
        },
      );
    this.#loading = { generation, modes };
    return modes;
  }

  /** Inside the transaction of the RushModeChanged append. */
  async write(db: Queryable, scheduleId: string, institutionId: string, enabled: boolean): Promise<void> {
    await db.query(
      `INSERT INTO rush_schedules (schedule_id, institution_id, enabled) VALUES ($1, $2, $3)
       ON CONFLICT (schedule_id) DO UPDATE SET enabled = EXCLUDED.enabled, updated_at = now()`,
      [scheduleId, institutionId, enabled],
    );
  }

  /** After that transaction committed: this instance sees the switch at once. */
  forget(_scheduleId: string): void {
    this.#generation += 1;
    this.#snapshot = undefined;
  }
}
