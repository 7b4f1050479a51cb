/**
 * The feeder: reads the event store in its global order (readAll, ADR 0002: never skips a late
 * commit) from the notifier's checkpoint, and writes each batch's plans and the new checkpoint in
 * one transaction. A crash before the commit replays the batch; the notifications' keys make the
 * replay add nothing twice. Two notifiers serialise on the checkpoint row (FOR UPDATE).
 */
import type { Checkpoint } from '../platform/event-store/event-store.ts';
import { encodeCheckpoint, PgEventStore } from '../platform/event-store/pg-event-store.ts';
import { type Pool, type Queryable, withTransaction } from '../platform/pg.ts';
import { applyPlan } from './outbox.ts';
import { type NotificationSettings, planNotifications } from './plan.ts';

export interface Feeder {
  /** One batch: the number of events read. */
  pollOnce(): Promise<number>;
  /** Events readAll would still return after the checkpoint (capped). */
  behind(): Promise<number>;
}

async function headCheckpoint(db: Queryable): Promise<Checkpoint | undefined> {
  const { rows } = await db.query<{ xid: string; global_position: string }>(
    `SELECT transaction_id::text AS xid, global_position FROM events
     WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
     ORDER BY transaction_id DESC, global_position DESC LIMIT 1`,
  );
  const row = rows[0];
  return row ? encodeCheckpoint(row.xid, row.global_position) : undefined;
}

/** Creates the notifier's checkpoint row if it has none (at the log's end, or before its start). */
export async function initCheckpoint(pool: Pool, name: string, start: 'start' | 'end'): Promise<void> {
  const at = start === 'end' ? await headCheckpoint(pool) : undefined;
  await pool.query(
    `INSERT INTO notifier_checkpoints (name, checkpoint) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`,
    [name, at ?? ''],
  );
}

export function feeder(opts: {
  pool: Pool;
  name: string;
  batch: number;
  settings: NotificationSettings;
}): Feeder {
  const store = new PgEventStore(opts.pool);
  const load = async (db: Queryable, lock: boolean): Promise<Checkpoint | undefined> => {
    const { rows } = await db.query<{ checkpoint: string }>(
      `SELECT checkpoint FROM notifier_checkpoints WHERE name = $1${lock ? ' FOR UPDATE' : ''}`,
      [opts.name],
    );
    const cp = rows[0]?.checkpoint;
    if (cp === undefined) throw new Error(`no checkpoint for notifier ${opts.name}`);
    return cp === '' ? undefined : cp;
  };
  return {
    pollOnce: () =>
      withTransaction(opts.pool, async (tx) => {
        const from = await load(tx, true);
        const { events, checkpoint } = await store.readAll(from, opts.batch);
        if (events.length === 0) return 0;
        for (const e of events)
          await applyPlan(
            tx,
            planNotifications(
              { id: e.id, type: e.type, data: e.data as Record<string, unknown>, createdAt: e.createdAt },
              opts.settings,
            ),
          );
        await tx.query(
          'UPDATE notifier_checkpoints SET checkpoint = $2, updated_at = now() WHERE name = $1',
          [opts.name, checkpoint],
        );
        return events.length;
      }),
    behind: async () => {
      const from = await load(opts.pool, false);
      const { events } = await store.readAll(from, 1000);
      return events.length;
    },
  };
}
