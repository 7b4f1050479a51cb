/**
 * The read endpoints as data: path, schemas, headers, replies and problems. routes.ts registers
 * each from its spec (and validates with its schemas); the OpenAPI document is written from the
 * same objects (platform/http/openapi.ts).
 */
import type { z } from 'zod';
import type { ResponseHeaderName } from '../platform/http/api-headers.ts';
import { defineRoute, type ResponseSpec, type RouteSpec } from '../platform/http/api-spec.ts';
import type { ErrorCode } from '../platform/http/errors.ts';
import {
  appointment,
  dayList,
  patientAppointments,
  scheduleSlots,
  doctorSchedules,
  homepage,
  institution,
  institutionDepartments,
  institutionDoctors,
  institutionSearch,
  institutionsPage,
} from './response-schemas.ts';
import {
  appointmentIdParam,
  doctorIdParam,
  homepageQuery,
  idParam,
  institutionsQuery,
  schedulesQuery,
  searchQuery,
} from './schemas.ts';
import {
  dayListQuery,
  institutionKeyParam,
  patientAppointmentsQuery,
  scheduleIdParam,
} from './slot-read-schemas.ts';
import { suggestInstitutionsRoute } from './suggest-route-spec.ts';

const COMMON_PROBLEMS: readonly ErrorCode[] = [
  'bad_parameter',
  'flow_limited',
  'internal',
  'dependency_unavailable',
  'system_overloaded',
];
const CACHE: readonly ResponseHeaderName[] = ['ETag', 'X-Cache', 'X-Data-Stale', 'Age', 'Cache-Control'];

/** A read served through the two cache levels: ETag, 304 on If-None-Match, staleness when Redis is down. */
const cachedReply = (description: string, body: z.ZodType): Record<number, ResponseSpec> => ({
  200: { description, body, headers: CACHE },
  304: { description: 'Not modified (If-None-Match matched)', headers: CACHE },
});
const cachedRead = {
  method: 'get',
  requestHeaders: [{ name: 'If-None-Match' }, { name: 'traceparent' }],
} as const;

export const homepageRoute = defineRoute({
  ...cachedRead,
  path: '/v1/homepage',
  operationId: 'getHomepage',
  summary: 'Homepage of a city: banners, featured institutions, hot departments, videos, science',
  tag: 'catalog',
  query: homepageQuery,
  responses: cachedReply('The homepage', homepage),
  problems: COMMON_PROBLEMS,
});

export const institutionsRoute = defineRoute({
  ...cachedRead,
  path: '/v1/institutions',
  operationId: 'listInstitutions',
  summary: 'Institutions by city, city and level, or category (keyset pagination)',
  description:
    "Institutions, filtered by city, city and level, or category (not combined otherwise). Page on with `cursor` = the previous page's nextCursor and the same filters.",
  tag: 'catalog',
  query: institutionsQuery,
  responses: cachedReply('A page of institutions', institutionsPage),
  problems: COMMON_PROBLEMS,
});

export const institutionRoute = defineRoute({
  ...cachedRead,
  path: '/v1/institutions/:id',
  operationId: 'getInstitution',
  summary: 'One institution',
  tag: 'catalog',
  params: idParam,
  responses: cachedReply('The institution', institution),
  problems: [...COMMON_PROBLEMS, 'institution_not_found'],
});

export const institutionDepartmentsRoute = defineRoute({
  ...cachedRead,
  path: '/v1/institutions/:id/departments',
  operationId: 'listInstitutionDepartments',
  summary: 'The departments of an institution',
  tag: 'catalog',
  params: idParam,
  responses: cachedReply('The departments', institutionDepartments),
  problems: [...COMMON_PROBLEMS, 'institution_not_found'],
});

export const institutionDoctorsRoute = defineRoute({
  ...cachedRead,
  path: '/v1/institutions/:id/doctors',
  operationId: 'listInstitutionDoctors',
  summary: 'The doctors of an institution (主任医师 first, then rating)',
  tag: 'catalog',
  params: idParam,
  responses: cachedReply('The doctors', institutionDoctors),
  problems: [...COMMON_PROBLEMS, 'institution_not_found'],
});

export const doctorSchedulesRoute = defineRoute({
  method: 'get',
  path: '/v1/doctors/:id/schedules',
  operationId: 'listDoctorSchedules',
  summary: "A doctor's schedules and their remaining places (from today, 14 days by default, at most 92)",
  description:
    "A doctor's schedules between from and to (hospital dates; default today and 14 days on; at most 92 days). With Booking-Checkpoint the read bypasses the cache and waits (up to 2 s) for that write; one beyond the event store's head is 400 and an unknown doctor 404, at once.",
  tag: 'schedules',
  params: doctorIdParam,
  query: schedulesQuery,
  requestHeaders: [{ name: 'Booking-Checkpoint' }, { name: 'If-None-Match' }, { name: 'traceparent' }],
  responses: cachedReply('The schedules', doctorSchedules),
  problems: [...COMMON_PROBLEMS, 'doctor_not_found'],
});

export const searchInstitutionsRoute = defineRoute({
  method: 'get',
  path: '/v1/search/institutions',
  operationId: 'searchInstitutions',
  summary: 'Full-text search of institutions (names, aliases, address), optionally in a city',
  tag: 'catalog',
  query: searchQuery,
  requestHeaders: [{ name: 'traceparent' }],
  responses: {
    200: { description: 'Hits by relevance', body: institutionSearch, headers: ['Cache-Control'] },
  },
  problems: COMMON_PROBLEMS,
});

export const appointmentRoute = defineRoute({
  method: 'get',
  path: '/v1/appointments/:id',
  operationId: 'getAppointment',
  summary: "One appointment (its holder, its institution's hospital, or an admin)",
  description:
    "One appointment; a patient reads only their own, a hospital only its institution's. Authorisation comes first (an unknown id is 404, a foreign one 403, at once). Right after a command, send its Booking-Checkpoint to wait (up to 2 s) for the write; one beyond the event store's head is 400. An appointment that exists but is not projected yet is 202 with status `pending` and X-Data-Stale. `patientId` is null once the patient is forgotten.",
  tag: 'appointments',
  auth: { roles: ['patient', 'hospital', 'admin'] },
  params: appointmentIdParam,
  requestHeaders: [{ name: 'Booking-Checkpoint' }, { name: 'traceparent' }],
  responses: {
    200: { description: 'The appointment', body: appointment, headers: ['X-Data-Stale', 'Cache-Control'] },
    202: {
      description: 'It exists, but the read model has not caught up (status `pending`)',
      body: appointment,
      headers: ['X-Data-Stale', 'Cache-Control'],
    },
  },
  problems: [...COMMON_PROBLEMS, 'unauthenticated', 'forbidden', 'appointment_not_found'],
});

export const scheduleSlotsRoute = defineRoute({
  method: 'get',
  path: '/v1/schedules/:id/slots',
  operationId: 'getScheduleSlots',
  summary: "One schedule's availability and each slot's state (free, held, confirmed, reserved)",
  description:
    "One schedule (one read of its document): its counts and, when numbered, every slot's number, start time and state; a held slot says when its hold expires, a reserved one for which channel until when. Never who holds a slot. With Booking-Checkpoint the read bypasses the cache and waits (up to 2 s) for that write; one beyond the event store's head is 400, at once.",
  tag: 'schedules',
  params: scheduleIdParam,
  requestHeaders: [{ name: 'Booking-Checkpoint' }, { name: 'If-None-Match' }, { name: 'traceparent' }],
  responses: cachedReply('The schedule and its slots', scheduleSlots),
  problems: [...COMMON_PROBLEMS, 'schedule_not_found'],
});

export const patientAppointmentsRoute = defineRoute({
  method: 'get',
  path: '/v1/patients/me/appointments',
  operationId: 'listMyAppointments',
  summary: "The patient's own appointments and waitlist entries, by time (keyset pagination)",
  description:
    "The calling patient's appointments (by slot or session time, then id) with their status: `held` (pay by `holdExpiresAt`), `confirmed`, `expired`, `cancelled`, `checked_in`, `no_show`, `active` (a schedule without slots), and waitlist entries (`waitlisted`, `left`). Page on with `cursor` = the previous page's nextCursor. With Booking-Checkpoint it waits (up to 2 s) for that write; one beyond the event store's head is 400, at once.",
  tag: 'appointments',
  auth: { roles: ['patient'] },
  query: patientAppointmentsQuery,
  requestHeaders: [{ name: 'Booking-Checkpoint' }, { name: 'traceparent' }],
  responses: {
    200: {
      description: 'A page of appointments',
      body: patientAppointments,
      headers: ['X-Data-Stale', 'Cache-Control'],
    },
  },
  problems: [...COMMON_PROBLEMS, 'unauthenticated', 'forbidden'],
});

export const dayListRoute = defineRoute({
  method: 'get',
  path: '/v1/institutions/:id/day-list',
  operationId: 'getDoctorDayList',
  summary: "A doctor's day at an institution: each schedule's appointments by slot with their state",
  description:
    "The doctor's schedules of that hospital date at the institution (closed ones too), each with its appointments by slot and their status. For the institution's hospital or an admin. No patient identity: open an appointment (GET /v1/appointments/{id}, audited) to see whose it is. With Booking-Checkpoint it waits (up to 2 s) for that write; one beyond the event store's head is 400, at once.",
  tag: 'appointments',
  auth: { roles: ['hospital', 'admin'] },
  params: institutionKeyParam,
  query: dayListQuery,
  requestHeaders: [{ name: 'Booking-Checkpoint' }, { name: 'traceparent' }],
  responses: {
    200: { description: 'The day list', body: dayList, headers: ['X-Data-Stale', 'Cache-Control'] },
  },
  problems: [...COMMON_PROBLEMS, 'unauthenticated', 'forbidden'],
});

export const queryApiRoutes: readonly RouteSpec[] = [
  homepageRoute,
  institutionsRoute,
  institutionRoute,
  institutionDepartmentsRoute,
  institutionDoctorsRoute,
  doctorSchedulesRoute,
  searchInstitutionsRoute,
  suggestInstitutionsRoute,
  appointmentRoute,
  scheduleSlotsRoute,
  patientAppointmentsRoute,
  dayListRoute,
];

export const queryApiInfo = {
  title: 'Booking query API',
  version: '1.0.0',
  description:
    'Reads of the hospital booking platform (catalog, schedules, appointments) from read models behind an in-process cache. Cached reads carry a strong ETag (send If-None-Match for a 304) and X-Cache; a read that could not be refreshed carries X-Data-Stale. Errors are RFC 9457 problems whose `type` resolves to a page saying what to do.',
};
