/**
 * Which schedules are in rush mode (docs/adr/0015): `rush_schedules`, written in the transaction
 * that appends a RushModeChanged (rush-route.ts). A booking asks here first: one primary-key read,
 * remembered for a second — a booking that arrives in the second after a switch may still take the
 * other path, which is harmless: both paths decide on the stream with its revision check.
 */
import { LRUCache } from 'lru-cache';
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
  readonly #cache: LRUCache<string, RushMode>;

  constructor(db: Queryable, ttlMs = 1_000) {
    this.#db = db;
    this.#cache = new LRUCache({ max: 50_000, ttl: ttlMs });
  }

  async of(scheduleId: string): Promise<RushMode> {
    const cached = this.#cache.get(scheduleId);
    if (cached) return cached;
    const { rows } = await this.#db.query<{ enabled: boolean; institution_id: string }>({
      name: 'rush_mode_of',
      text: 'SELECT enabled, institution_id FROM rush_schedules WHERE schedule_id = $1',
      values: [scheduleId],
    });
    const row = rows[0];
    const mode = row ? { enabled: row.enabled, institutionId: row.institution_id } : OFF;
    this.#cache.set(scheduleId, mode);
    return mode;
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
  forget(scheduleId: string): void {
    this.#cache.delete(scheduleId);
  }
}
