/**
 * Checks on a schedule's stream as stored (the slot races and the deadline crash test): read the
 * events back and replay them, so what is checked is what the store holds, not what a reply said.
 */
import type pg from 'pg';
import { scheduleStreamName } from '../../domain/schedule.ts';

export interface Stored {
  type: string;
  data: Record<string, unknown>;
}

/** The schedule's events in stream order. */
export async function eventsOf(pool: pg.Pool, scheduleId: string): Promise<Stored[]> {
  const { rows } = await pool.query<{ event_type: string; data: Record<string, unknown> }>(
    'SELECT event_type, data FROM events WHERE stream_id = $1 ORDER BY stream_revision',
    [scheduleStreamName(scheduleId)],
  );
  return rows.map((r) => ({ type: r.event_type, data: r.data }));
}

/** Replays the stream: a slot is taken only when free; returns every violation found. */
export function violations(events: readonly Stored[]): string[] {
  const found: string[] = [];
  const bySlot = new Map<number, string>();
  const slotOf = new Map<string, number>();
  const ended = new Map<string, string>();
  for (const e of events) {
    const id = String(e.data.appointmentId);
    if (e.type === 'SlotTaken') {
      const slot = Number(e.data.slot);
      const holder = bySlot.get(slot);
      if (holder !== undefined) found.push(`slot ${slot} given to ${id} while ${holder} has it`);
      bySlot.set(slot, id);
      slotOf.set(id, slot);
    }
    if (e.type === 'PaymentConfirmed' || e.type === 'HoldExpired') {
      if (ended.has(id)) found.push(`${id}: ${e.type} after ${ended.get(id)}`);
      ended.set(id, e.type);
      if (!slotOf.has(id) || bySlot.get(slotOf.get(id)!) !== id)
        found.push(`${id}: ${e.type} without its slot`);
    }
    if (e.type === 'HoldExpired' || e.type === 'AppointmentCancelled') bySlot.delete(slotOf.get(id) ?? -1);
  }
  return found;
}
