import type { Request } from 'express';
import { inSpan } from '../platform/context.ts';
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

/** The span of a read-your-writes wait, a child of the request's (no-op without the SDK). */
export const WAIT_SPAN = 'read-your-writes wait';

/**
 * Loads until `isFresh` holds or `timeoutMs` passes, polling Redis (cheap: one small read).
 * Returns the last load and whether it reached the checkpoint. A first load that is fresh (or no
 * time to wait) returns at once; only an actual wait is traced, as its own span (WAIT_SPAN) with
 * whether it reached the checkpoint, how long it waited and how many loads it polled.
 */
export async function loadUntil<T>(
  load: () => Promise<T>,
  isFresh: (value: T) => boolean,
  timeoutMs: number,
  intervalMs = 20,
): Promise<{ value: T; fresh: boolean }> {
  const started = Date.now();
  const deadline = started + timeoutMs;
  const first = await load();
  if (isFresh(first)) return { value: first, fresh: true };
  if (Date.now() >= deadline) return { value: first, fresh: false };
  return inSpan(WAIT_SPAN, { attributes: { 'booking.ryw.timeout_ms': timeoutMs } }, async (span) => {
    let value = first;
    let fresh = false;
    let polls = 0;
    while (!fresh && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, Math.min(intervalMs, Math.max(1, deadline - Date.now()))));
      value = await load();
      polls += 1;
      fresh = isFresh(value);
    }
    span.setAttributes({
      'booking.ryw.reached': fresh,
      'booking.ryw.waited_ms': Date.now() - started,
      'booking.ryw.polls': polls,
    });
    return { value, fresh };
  });
}
