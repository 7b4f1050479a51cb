import type { Request } from 'express';
import { compareCheckpoints, isCheckpoint } from '../platform/event-store/checkpoint.ts';
import { AppError } from '../platform/http/errors.ts';
import { type AppointmentAccess, guardPostgres } from './appointment-access.ts';

/** The header the command API returns and a query may send back. */
export const CHECKPOINT_HEADER = 'Booking-Checkpoint';

export function requestedCheckpoint(req: Request): string | undefined {
  const value = req.header(CHECKPOINT_HEADER);
  if (value === undefined || value === '') return undefined;
  if (!isCheckpoint(value)) {
    throw new AppError(
      'bad_parameter',
      `${CHECKPOINT_HEADER} is not a checkpoint returned by the command API`,
      {
        invalidParams: [{ name: CHECKPOINT_HEADER, reason: 'malformed checkpoint' }],
      },
    );
  }
  return value;
}

/**
 * A Booking-Checkpoint beyond the event store's head was never issued (a forged or mistyped one):
 * 400 at once, never after a wait that could not end well. Every route that waits calls this
 * before waiting, after its authorisation.
 */
export async function requireIssued(
  appointments: Pick<AppointmentAccess, 'issued'>,
  checkpoint: string | undefined,
): Promise<void> {
  if (!checkpoint || (await guardPostgres(() => appointments.issued(checkpoint)))) return;
  throw new AppError('bad_parameter', `${CHECKPOINT_HEADER} is beyond the event store's head`, {
    invalidParams: [{ name: CHECKPOINT_HEADER, reason: 'not a checkpoint the command API issued' }],
  });
}

export const reached = (applied: string | undefined, wanted: string): boolean =>
  applied !== undefined && compareCheckpoints(applied, wanted) >= 0;

/**
 * Loads until `isFresh` holds or `timeoutMs` passes, polling Redis (cheap: one small read).
 * Returns the last load and whether it reached the checkpoint.
 */
export async function loadUntil<T>(
  load: () => Promise<T>,
  isFresh: (value: T) => boolean,
  timeoutMs: number,
  intervalMs = 20,
): Promise<{ value: T; fresh: boolean }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await load();
    if (isFresh(value)) return { value, fresh: true };
    if (Date.now() >= deadline) return { value, fresh: false };
    await new Promise((r) => setTimeout(r, Math.min(intervalMs, Math.max(1, deadline - Date.now()))));
  }
}
