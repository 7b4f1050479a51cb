/**
 * The command endpoints as data: path, roles, schemas, headers, replies and problems. routes.ts
 * registers each from its spec (and validates with its schemas); the OpenAPI document is written
 * from the same objects (platform/http/openapi.ts).
 */
import { z } from 'zod';
import type { ResponseHeaderName } from '../platform/http/api-headers.ts';
import { defineRoute, type ResponseSpec, type RouteSpec } from '../platform/http/api-spec.ts';
import type { ErrorCode } from '../platform/http/errors.ts';
import { flowAdminRoutes } from './flow-admin-specs.ts';
import {
  appointmentBooked,
  appointmentCancelled,
  appointmentParams,
  attendanceBody,
  attendanceRecorded,
  auditPage,
  auditQuery,
  bookAppointmentBody,
  bookingQueued,
  bookingRequest,
  bookingRequestParams,
  bookingRequestQuery,
  rushSet,
  setRushBody,
  cancelAppointmentBody,
  capacityChanged,
  changeCapacityBody,
  closeScheduleBody,
  confirmPaymentBody,
  joinWaitlistBody,
  openScheduleBody,
  paymentConfirmed,
  patientForgotten,
  patientParams,
  scheduleClosed,
  scheduleOpened,
  scheduleParams,
  waitlistEntryParams,
  waitlistJoined,
  waitlistLeft,
} from './schemas.ts';

export const noParams = z.strictObject({});

/** What every command may answer besides its own business rules (auth, key, body, limits, outages). */
const COMMON_PROBLEMS: readonly ErrorCode[] = [
  'validation_failed',
  'malformed_json',
  'idempotency_key_missing',
  'idempotency_key_invalid',
  'unauthenticated',
  'forbidden',
  'idempotency_key_in_flight',
  'concurrency_conflict',
  'payload_too_large',
  'unsupported_media_type',
  'idempotency_key_reused',
  'too_many_requests',
  'flow_limited',
  'internal',
  'dependency_unavailable',
  'system_overloaded',
];
/** A path parameter that is not valid percent-encoding. */
const PATH_PROBLEMS: readonly ErrorCode[] = ['bad_parameter'];

const RATE_LIMIT: readonly ResponseHeaderName[] = [
  'RateLimit-Limit',
  'RateLimit-Remaining',
  'RateLimit-Reset',
];

const reply = (description: string, body: z.ZodType, created = false): ResponseSpec => ({
  description,
  body,
  headers: [
    ...(created ? (['Location'] as const) : []),
    'Booking-Checkpoint',
    'Idempotent-Replayed',
    ...RATE_LIMIT,
  ],
  requiredHeaders: created ? ['Location'] : [],
});

const command = {
  requestHeaders: [{ name: 'Idempotency-Key', required: true }, { name: 'traceparent' }],
} as const;
const STAFF = ['hospital', 'admin'] as const;
const ANYONE = ['patient', 'hospital', 'admin'] as const;

export const openScheduleRoute = defineRoute({
  ...command,
  method: 'post',
  path: '/v1/schedules',
  operationId: 'openSchedule',
  summary: "Open a schedule (a doctor's session with a number of places)",
  description:
    "Open a schedule for an active catalog doctor of the institution and department named (a hospital only for its own institution), dated from the hospital's today to BOOKING_HORIZON_DAYS (90) ahead; one open schedule per doctor, date and period.",
  tag: 'schedules',
  auth: { roles: STAFF },
  params: noParams,
  body: openScheduleBody,
  responses: { 201: reply('Opened', scheduleOpened, true) },
  problems: [
    ...COMMON_PROBLEMS,
    'schedule_already_exists',
    'session_started',
    'session_already_scheduled',
    'catalog_reference_invalid',
    'date_outside_horizon',
  ],
});

/** Refusals of the per-patient rules (docs/adr/0012), checked when a numbered slot is taken. */
const PATIENT_RULES: readonly ErrorCode[] = ['one_per_doctor_per_day', 'too_many_active', 'no_show_limited'];

export const changeCapacityRoute = defineRoute({
  ...command,
  method: 'post',
  path: '/v1/schedules/:scheduleId/capacity',
  operationId: 'changeCapacity',
  summary: 'Change the number of places of a schedule',
  tag: 'schedules',
  auth: { roles: STAFF },
  params: scheduleParams,
  body: changeCapacityBody,
  responses: { 200: reply('Changed (or already so)', capacityChanged) },
  problems: [
    ...COMMON_PROBLEMS,
    ...PATH_PROBLEMS,
    'schedule_not_found',
    'schedule_closed',
    'capacity_below_active',
  ],
});

export const closeScheduleRoute = defineRoute({
  ...command,
  method: 'post',
  path: '/v1/schedules/:scheduleId/close',
  operationId: 'closeSchedule',
  summary: 'Close a schedule, cancelling its active appointments',
  tag: 'schedules',
  auth: { roles: STAFF },
  params: scheduleParams,
  body: closeScheduleBody,
  responses: { 200: reply('Closed', scheduleClosed) },
  problems: [...COMMON_PROBLEMS, ...PATH_PROBLEMS, 'schedule_not_found', 'schedule_closed'],
});

export const bookAppointmentRoute = defineRoute({
  ...command,
  method: 'post',
  path: '/v1/appointments',
  operationId: 'bookAppointment',
  summary: 'Book a place on a schedule',
  description:
    "Book a place on a schedule. A patient books only for themselves (patientId = their sub); a hospital only on its own institution's schedules. On a numbered schedule, `slot` picks a slot (absent: the lowest free one the channel may take) and `channel` says who books (a patient: online only); with a fee the slot is held until holdExpiresAt unless the payment is confirmed, without one it is confirmed at once; the per-patient rules apply.",
  tag: 'appointments',
  auth: { roles: ANYONE },
  params: noParams,
  body: bookAppointmentBody,
  responses: {
    201: reply('Booked', appointmentBooked, true),
    202: reply('Queued: the schedule is in rush mode; follow Location for the outcome', bookingQueued, true),
  },
  problems: [
    ...COMMON_PROBLEMS,
    'schedule_not_found',
    'schedule_closed',
    'session_started',
    'schedule_full',
    'already_booked',
    'not_numbered',
    'slot_not_found',
    'slot_taken',
    'slot_reserved',
    'booking_closed',
    ...PATIENT_RULES,
  ],
});

export const cancelAppointmentRoute = defineRoute({
  ...command,
  method: 'post',
  path: '/v1/appointments/:appointmentId/cancel',
  operationId: 'cancelAppointment',
  summary: 'Cancel an appointment',
  description:
    "Cancel an appointment (a patient only their own, a hospital only on its own institution's schedules). The body is optional.",
  tag: 'appointments',
  auth: { roles: ANYONE },
  params: appointmentParams,
  body: cancelAppointmentBody,
  bodyRequired: false,
  responses: { 200: reply('Cancelled', appointmentCancelled) },
  problems: [
    ...COMMON_PROBLEMS,
    ...PATH_PROBLEMS,
    'appointment_not_found',
    'appointment_not_active',
    'cancellation_closed',
  ],
});

export const confirmPaymentRoute = defineRoute({
  ...command,
  method: 'post',
  path: '/v1/appointments/:appointmentId/confirm-payment',
  operationId: 'confirmPayment',
  summary: 'Confirm the payment of a held slot (the payment side)',
  description:
    "The payment side confirms that the fee of a held slot was paid (an admin, or a hospital for its own institution's schedules). Idempotent by paymentRef: the same reference again answers 200 with nothing new; another reference on a confirmed appointment is payment_ref_conflict, a payment after the hold expired is hold_expired (refund it). A payment after the deadline but before the expiry was decided still confirms.",
  tag: 'appointments',
  auth: { roles: STAFF },
  params: appointmentParams,
  body: confirmPaymentBody,
  responses: { 200: reply('Confirmed (or already by this payment)', paymentConfirmed) },
  problems: [
    ...COMMON_PROBLEMS,
    ...PATH_PROBLEMS,
    'appointment_not_found',
    'appointment_not_active',
    'not_numbered',
    'hold_expired',
    'payment_ref_conflict',
    'payment_amount_mismatch',
  ],
});

export const joinWaitlistRoute = defineRoute({
  ...command,
  method: 'post',
  path: '/v1/schedules/:scheduleId/waitlist',
  operationId: 'joinWaitlist',
  summary: 'Join the waitlist of a full numbered schedule',
  description:
    'A patient (only for themselves) or a hospital joins the waitlist of a numbered schedule with no free slot for the channel. A slot freed by a cancellation or an expiry is offered to the first waiting patient as a hold (appointment id = entryId) with its own deadline.',
  tag: 'schedules',
  auth: { roles: ANYONE },
  params: scheduleParams,
  body: joinWaitlistBody,
  responses: { 201: reply('Waiting', waitlistJoined, true) },
  problems: [
    ...COMMON_PROBLEMS,
    ...PATH_PROBLEMS,
    'schedule_not_found',
    'schedule_closed',
    'session_started',
    'not_numbered',
    'booking_closed',
    'already_booked',
    'already_waitlisted',
    'slot_available',
  ],
});

export const leaveWaitlistRoute = defineRoute({
  ...command,
  method: 'post',
  path: '/v1/schedules/:scheduleId/waitlist/:entryId/leave',
  operationId: 'leaveWaitlist',
  summary: 'Leave the waitlist',
  description: 'A patient leaves only their own entry; a hospital or an admin any. The body is ignored.',
  tag: 'schedules',
  auth: { roles: ANYONE },
  params: waitlistEntryParams,
  body: attendanceBody,
  bodyRequired: false,
  responses: { 200: reply('Left', waitlistLeft) },
  problems: [
    ...COMMON_PROBLEMS,
    ...PATH_PROBLEMS,
    'schedule_not_found',
    'not_numbered',
    'waitlist_entry_not_found',
  ],
});

const attendanceRoute = (kind: 'check-in' | 'no-show') =>
  defineRoute({
    ...command,
    method: 'post',
    path: `/v1/appointments/:appointmentId/${kind}`,
    operationId: kind === 'check-in' ? 'checkIn' : 'markNoShow',
    summary: kind === 'check-in' ? 'Check a patient in' : 'Mark a no-show',
    description:
      kind === 'check-in'
        ? "The hospital (of the schedule's institution) or an admin checks in a confirmed appointment, from 00:00 of the session's day. Again: 200, nothing new. The body is ignored."
        : "The hospital (of the schedule's institution) or an admin marks a confirmed appointment as a no-show after the last slot ended (it counts towards NO_SHOW_LIMIT). Again: 200, nothing new. The body is ignored.",
    tag: 'appointments',
    auth: { roles: STAFF },
    params: appointmentParams,
    body: attendanceBody,
    bodyRequired: false,
    responses: { 200: reply(kind === 'check-in' ? 'Checked in' : 'Marked', attendanceRecorded) },
    problems: [
      ...COMMON_PROBLEMS,
      ...PATH_PROBLEMS,
      'appointment_not_found',
      'not_numbered',
      'not_confirmed',
      // A cancelled or expired appointment, or one already recorded the other way.
      'appointment_not_active',
      'too_early',
    ],
  });

export const checkInRoute = attendanceRoute('check-in');
export const markNoShowRoute = attendanceRoute('no-show');

export const forgetPatientRoute = defineRoute({
  ...command,
  method: 'post',
  path: '/v1/patients/:patientId/forget',
  operationId: 'forgetPatient',
  summary: 'Forget a patient (delete their data key)',
  description:
    "Admin only. Deletes the patient's data key and records PatientForgotten: their events stay in the store but their identity is unrecoverable everywhere, the read models drop it and the analysts' pseudonym no longer links. Their appointments stay, anonymous (a hospital or an admin can still cancel them). An unknown or already forgotten patient is 404 patient_not_found. The body is ignored.",
  tag: 'patients',
  auth: { roles: ['admin'] as const },
  params: patientParams,
  body: z.object({}),
  bodyRequired: false,
  responses: { 200: { description: 'Forgotten', body: patientForgotten, headers: ['Idempotent-Replayed'] } },
  problems: [...COMMON_PROBLEMS, ...PATH_PROBLEMS, 'patient_not_found'],
});

export const auditRoute = defineRoute({
  method: 'get',
  path: '/v1/audit',
  operationId: 'listAuditEntries',
  summary: 'The audit trail, newest first (admins only)',
  description:
    'Every access to patient data by a hospital or an admin and every admin action: who, what, when, trace id. Patients appear only as their opaque patient reference. Filter by actor, action or subject; page on with `cursor` = the previous nextCursor.',
  tag: 'audit',
  auth: { roles: ['admin'] },
  requestHeaders: [{ name: 'traceparent' }],
  params: noParams,
  query: auditQuery,
  responses: { 200: { description: 'A page of audit entries', body: auditPage } },
  problems: [
    'bad_parameter',
    'unauthenticated',
    'forbidden',
    'flow_limited',
    'internal',
    'dependency_unavailable',
    'system_overloaded',
  ],
});

export const setRushRoute = defineRoute({
  ...command,
  method: 'post',
  path: '/v1/schedules/:scheduleId/rush',
  operationId: 'setRushMode',
  summary: 'Switch a schedule into or out of rush mode (bookings queued on Kafka, decided in order)',
  description:
    "In rush mode a booking is accepted at once (202 with a booking request to follow) and decided in arrival order, in batches, by the request processor. A hospital only for its own institution's schedules; switching to what it is records nothing.",
  tag: 'schedules',
  auth: { roles: STAFF },
  params: scheduleParams,
  body: setRushBody,
  responses: { 200: reply('Switched (or already so)', rushSet) },
  problems: [...COMMON_PROBLEMS, ...PATH_PROBLEMS, 'schedule_not_found', 'schedule_closed'],
});

export const bookingRequestRoute = defineRoute({
  method: 'get',
  path: '/v1/booking-requests/:requestId',
  operationId: 'getBookingRequest',
  summary: 'A rush-mode booking request: queued (with its position), booked or rejected',
  description:
    "`wait` (seconds, up to 10) holds the answer until the request is decided or the time is up. Only the requesting patient, a hospital of the schedule's institution or an admin may read it. A final outcome carries the Booking-Checkpoint to read your write on the query API.",
  tag: 'appointments',
  auth: { roles: ANYONE },
  requestHeaders: [{ name: 'traceparent' }],
  longPoll: true,
  params: bookingRequestParams,
  query: bookingRequestQuery,
  responses: {
    200: { description: 'The request', body: bookingRequest, headers: ['Booking-Checkpoint'] },
  },
  problems: [
    'bad_parameter',
    'unauthenticated',
    'forbidden',
    'not_found',
    'flow_limited',
    'internal',
    'dependency_unavailable',
    'system_overloaded',
  ],
});

export const commandApiRoutes: readonly RouteSpec[] = [
  openScheduleRoute,
  changeCapacityRoute,
  closeScheduleRoute,
  bookAppointmentRoute,
  cancelAppointmentRoute,
  confirmPaymentRoute,
  joinWaitlistRoute,
  leaveWaitlistRoute,
  checkInRoute,
  markNoShowRoute,
  forgetPatientRoute,
  auditRoute,
  ...flowAdminRoutes,
  setRushRoute,
  bookingRequestRoute,
];

export const commandApiInfo = {
  title: 'Booking command API',
  version: '1.0.0',
  description:
    'Commands of the hospital booking platform. Every command needs a bearer JWT and an Idempotency-Key; a success returns a Booking-Checkpoint to read your own write on the query API. Errors are RFC 9457 problems whose `type` resolves to a page saying what to do. A path that exists answers other methods with 405 method_not_allowed; an unknown path 404 not_found.',
};
