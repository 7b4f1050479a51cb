/**
 * One rush-mode booking on `booking.requests` (docs/adr/0015): what the command API produces and
 * the request processor decides. Keyed by schedule id, so a schedule's requests stay in one
 * partition, in the order they were accepted.
 *
 * The patient travels as the events carry them (docs/adr/0010): their opaque reference and their
 * identity sealed with their own data key; never their id in clear.
 */
import { z } from 'zod';
import { actorRoles } from '../domain/schedule-events.ts';

const sealed = z.string().regex(/^v1\.[\w-]+\.[\w-]*\.[\w-]+$/);

export const bookingRequestMessage = z.object({
  v: z.literal(1),
  requestId: z.uuid(),
  /** Chosen at acceptance: a redelivered request books under the same id (or is found decided). */
  appointmentId: z.uuid(),
  scheduleId: z.string().min(1),
  patientRef: z.string().min(1),
  patient: sealed,
  slot: z.number().int().positive().optional(),
  channel: z.string().min(1).optional(),
  /** Who asked: a patient by their reference, staff by their subject. */
  actor: z.object({ id: z.string(), role: z.enum(actorRoles) }),
  acceptedAt: z.string().min(1),
  traceparent: z.string().optional(),
});

export type BookingRequestMessage = z.infer<typeof bookingRequestMessage>;

/** Parses a record's value; null when it is not a request this build understands (skipped, logged). */
export function parseBookingRequest(value: Buffer | null): BookingRequestMessage | null {
  if (!value) return null;
  try {
    const parsed = bookingRequestMessage.safeParse(JSON.parse(value.toString('utf8')));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** The final outcome of a request, as GET /v1/booking-requests/{id} reports it. */
export type RequestOutcome =
  | {
      status: 'booked';
      appointmentId: string;
      slot?: number;
      slotStartsAt?: string;
      holdExpiresAt?: string | null;
    }
  | { status: 'rejected'; reason: string; detail?: string };
