/** The API's response bodies, from the types generated from its OpenAPI documents (clients/). */
import type { operations as Q } from '../../clients/query-api.d.ts';
import type { operations as C } from '../../clients/command-api.d.ts';

type Ok<Op extends { responses: { 200: { content: { 'application/json': unknown } } } }> =
  Op['responses'][200]['content']['application/json'];

export type Homepage = Ok<Q['getHomepage']>;
export type InstitutionsPage = Ok<Q['listInstitutions']>;
export type Institution = Ok<Q['getInstitution']>['institution'];
export type Departments = Ok<Q['listInstitutionDepartments']>;
export type Doctors = Ok<Q['listInstitutionDoctors']>;
export type Doctor = Doctors['doctors'][number];
export type DoctorSchedules = Ok<Q['listDoctorSchedules']>;
export type Schedule = DoctorSchedules['schedules'][number];
export type SearchResults = Ok<Q['searchInstitutions']>;
export type AppointmentRead = Ok<Q['getAppointment']>;
export type Booked = C['bookAppointment']['responses'][201]['content']['application/json'];
export type Queued = C['bookAppointment']['responses'][202]['content']['application/json'];
export type BookingRequest = Ok<C['getBookingRequest']>;
