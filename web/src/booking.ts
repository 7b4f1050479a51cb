/**
 * One booking attempt: its Idempotency-Key is made once and kept until the attempt has an
 * outcome, so a double click or a retry after a lost answer books at most once (the command API
 * replays the first answer for the same key). A rush-mode schedule answers 202 with the queued
 * position; the outcome is then long-polled from the booking request.
 */
import { ref } from 'vue';
import { call, get } from './api.ts';
import { ApiError, describeError } from './problems.ts';
import { navigate } from './router.ts';
import { session } from './session.ts';
import type { Booked, BookingRequest, Queued } from './types.ts';

export const checkpointKey = (appointmentId: string) => `booking.checkpoint.${appointmentId}`;

function openAppointment(appointmentId: string, checkpoint: string | null) {
  if (checkpoint) sessionStorage.setItem(checkpointKey(appointmentId), checkpoint);
  navigate(`/appointments/${appointmentId}`);
}

export function useBooking() {
  const busy = ref(false);
  const error = ref<string>();
  const queuedAt = ref<number>();
  let key: string | undefined;

  async function followRequest(requestId: string) {
    for (;;) {
      const { data, headers } = await get<BookingRequest>(`/v1/booking-requests/${requestId}?wait=10`, {
        auth: true,
      });
      if (data.status === 'booked' && data.appointmentId) {
        openAppointment(data.appointmentId, headers.get('booking-checkpoint'));
        return;
      }
      if (data.status === 'rejected')
        throw new ApiError(409, data.reason ?? 'rejected', data.detail, undefined);
      queuedAt.value = data.position;
    }
  }

  async function book(scheduleId: string) {
    if (busy.value || !session.value) return;
    busy.value = true;
    error.value = undefined;
    key ??= crypto.randomUUID();
    try {
      const res = await call<Booked | Queued>('/v1/appointments', {
        method: 'POST',
        auth: true,
        idempotencyKey: key,
        body: { scheduleId, patientId: session.value.sub },
      });
      if (res.status === 202 && 'requestId' in res.data) {
        queuedAt.value = res.data.position;
        await followRequest(res.data.requestId);
      } else if ('appointmentId' in res.data) {
        openAppointment(res.data.appointmentId, res.headers.get('booking-checkpoint'));
      }
      key = undefined;
    } catch (err) {
      // A lost answer (network) keeps the key: the retry is the same attempt.
      if (!(err instanceof ApiError && err.code === 'network')) key = undefined;
      error.value = describeError(err);
    } finally {
      busy.value = false;
      queuedAt.value = undefined;
    }
  }

  return { busy, error, queuedAt, book };
}
