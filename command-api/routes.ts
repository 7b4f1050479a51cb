/**
 * The command endpoints: for each, the command its request becomes and the success reply. Who may
 * call it, its path and schemas are its declaration (route-specs.ts); everything else is the
 * shared route (command-route.ts) and the command path (command-path.ts).
 */
import { type RequestHandler, Router } from 'express';
import type { z } from 'zod';
import type { SlotTaken } from '../domain/slot-events.ts';
import type { ScheduleStreamEvent, SlotPlanInput } from '../domain/slot-state.ts';
import { scheduleStreamName } from '../domain/schedule.ts';
import { requireRole } from '../platform/http/auth.ts';
import { AppError } from '../platform/http/errors.ts';
import type { PatientVault } from '../platform/patient-vault.ts';
import type { PgAppointmentIndex } from './appointment-index.ts';
import { catalogProblem, type CatalogDirectory } from './catalog-directory.ts';
import { commandRoute, type CommandRouteDeps, type CommandRouteSpec } from './command-route.ts';
import { problem } from './problems.ts';
import {
  bookAppointmentRoute,
  cancelAppointmentRoute,
  changeCapacityRoute,
  closeScheduleRoute,
  forgetPatientRoute,
  openScheduleRoute,
} from './route-specs.ts';
import { actorFor, checkIn, confirmPayment, joinWaitlist, leaveWaitlist, markNoShow } from './slot-routes.ts';
import { ownSchedulesOnly, patientChannelOnly, requireOwnInstitution } from './tenancy.ts';

export interface RoutesDeps extends CommandRouteDeps {
  appointments: Pick<PgAppointmentIndex, 'find'>;
  ids: () => string;
  patients: Pick<PatientVault, 'resolve' | 'refFor' | 'digest'>;
  /** POST /v1/patients/{id}/forget (forget-route.ts): not a schedule command. */
  forget: RequestHandler;
  /** Where opening a schedule checks its doctor, institution and department. */
  catalog: CatalogDirectory;
  /** Days after the hospital's today a schedule may be opened for (BOOKING_HORIZON_DAYS). */
  bookingHorizonDays: number;
  /** Rush mode (rush-booking.ts): takes a booking for a rush schedule, passes any other on. */
  rushBooking?: RequestHandler;
}

export const methodNotAllowed =
  (...allowed: string[]): RequestHandler =>
  (req) => {
    throw new AppError('method_not_allowed', `${req.method} is not supported here`, {
      headers: { Allow: allowed.join(', ') },
    });
  };

/** The command routes, by their full paths (the app mounts authentication and body parsing on /v1). */
export function commandRoutes(deps: RoutesDeps): Router {
  const router = Router();
  const post = <BS extends z.ZodType, PS extends z.ZodType>(
    spec: CommandRouteSpec<BS, PS>,
    ...before: RequestHandler[]
  ) => {
    router
      .route(spec.route.path)
      .post(requireRole(...spec.route.auth.roles), ...before, commandRoute(deps, spec))
      .all(methodNotAllowed('POST'));
  };
  post(openSchedule(deps));
  post(changeCapacity);
  post(closeSchedule);
  post(bookAppointment(deps.ids, deps.patients), ...(deps.rushBooking ? [deps.rushBooking] : []));
  post(cancelAppointment(deps.appointments, deps.patients));
  post(confirmPayment(deps.appointments));
  post(joinWaitlist(deps.ids, deps.patients));
  post(leaveWaitlist(deps.patients));
  post(checkIn(deps.appointments));
  post(markNoShow(deps.appointments));
  router
    .route(forgetPatientRoute.path)
    .post(requireRole(...forgetPatientRoute.auth.roles), deps.forget)
    .all(methodNotAllowed('POST'));
  return router;
}

/** A command's handler, typed by its declared route's body and path schemas. */
type Spec<R> = R extends { body: infer B extends z.ZodType; params: infer P extends z.ZodType }
  ? CommandRouteSpec<B, P>
  : never;

const openSchedule = (
  deps: Pick<RoutesDeps, 'ids' | 'catalog' | 'bookingHorizonDays'>,
): Spec<typeof openScheduleRoute> => ({
  route: openScheduleRoute,
  authorize: (principal, body) => requireOwnInstitution(principal, body.institutionId),
  prepare: async ({ body, principal, now }) => {
    const invalid = catalogProblem(body, await deps.catalog.doctor(body.doctorId));
    if (invalid.length > 0) {
      const fields = invalid.map((p) => p.name).join(', ');
      return problem('catalog_reference_invalid', `Not an active catalog reference: ${fields}`, {
        invalidParams: invalid,
      });
    }
    const scheduleId = body.scheduleId ?? deps.ids();
    return {
      streamId: scheduleStreamName(scheduleId),
      command: {
        type: 'OpenSchedule',
        scheduleId,
        doctorId: body.doctorId,
        institutionId: body.institutionId,
        departmentId: body.departmentId,
        date: body.date,
        period: body.period,
        capacity: body.capacity,
        fee: body.fee,
        actor: { id: principal.sub, role: principal.role },
        now,
        bookingHorizonDays: deps.bookingHorizonDays,
        ...(body.slots ? { slots: slotPlanOf(body.slots) } : {}),
      },
      reply: ({ state }) => ({
        status: 201,
        body: {
          scheduleId,
          status: 'open',
          capacity: body.capacity,
          sessionStartsAt: state.status === 'open' ? state.sessionStartsAt : undefined,
        },
        headers: { Location: `/v1/schedules/${scheduleId}` },
      }),
    };
  },
});

const changeCapacity: Spec<typeof changeCapacityRoute> = {
  route: changeCapacityRoute,
  prepare: ({ body, params, principal, now }) => ({
    streamId: scheduleStreamName(params.scheduleId),
    authorize: ownSchedulesOnly(principal),
    command: {
      type: 'ChangeCapacity',
      capacity: body.capacity,
      actor: { id: principal.sub, role: principal.role },
      now,
    },
    reply: () => ({ status: 200, body: { scheduleId: params.scheduleId, capacity: body.capacity } }),
  }),
};

const closeSchedule: Spec<typeof closeScheduleRoute> = {
  route: closeScheduleRoute,
  prepare: ({ body, params, principal, now }) => ({
    streamId: scheduleStreamName(params.scheduleId),
    authorize: ownSchedulesOnly(principal),
    command: {
      type: 'CloseSchedule',
      reason: body.reason,
      actor: { id: principal.sub, role: principal.role },
      now,
    },
    reply: ({ events }) => ({
      status: 200,
      body: {
        scheduleId: params.scheduleId,
        status: 'closed',
        cancelledAppointmentIds: events.flatMap((e) =>
          e.type === 'AppointmentCancelled' ? [e.data.appointmentId] : [],
        ),
      },
    }),
  }),
};

const bookAppointment = (
  ids: () => string,
  patients: RoutesDeps['patients'],
): Spec<typeof bookAppointmentRoute> => ({
  route: bookAppointmentRoute,
  authorize: (principal, body) => {
    if (principal.role === 'patient' && body.patientId !== principal.sub) {
      throw new AppError('forbidden', 'Patients may only book for themselves');
    }
    patientChannelOnly(principal, body.channel);
  },
  prepare: async ({ body, principal, now }) => {
    const appointmentId = ids();
    // The patient's key is created on their first booking; events carry only the reference and
    // the sealed id (docs/adr/0010).
    const { patientRef, patient } = await patients.resolve(body.patientId);
    return {
      streamId: scheduleStreamName(body.scheduleId),
      authorize: ownSchedulesOnly(principal),
      command: {
        type: 'BookAppointment',
        scheduleId: body.scheduleId,
        appointmentId,
        patientRef,
        patient,
        now,
        ...(body.slot === undefined ? {} : { slot: body.slot }),
        ...(body.channel === undefined ? {} : { channel: body.channel }),
      },
      ...(principal.role === 'patient' ? { actor: { id: patientRef, role: 'patient' as const } } : {}),
      reply: ({ events }) => ({
        status: 201,
        body: {
          appointmentId,
          scheduleId: body.scheduleId,
          status: 'active',
          ...slotOf(events, appointmentId),
        },
        headers: { Location: `/v1/appointments/${appointmentId}` },
      }),
    };
  },
});

const cancelAppointment = (
  index: Pick<PgAppointmentIndex, 'find'>,
  patients: RoutesDeps['patients'],
): Spec<typeof cancelAppointmentRoute> => ({
  route: cancelAppointmentRoute,
  prepare: async ({ body, params, principal, now }) => {
    const indexed = await index.find(params.appointmentId);
    if (!indexed) return problem('appointment_not_found');
    const actor = await actorFor(principal, patients);
    return {
      streamId: indexed.streamId,
      authorize: ownSchedulesOnly(principal),
      command: {
        type: 'CancelAppointment',
        appointmentId: params.appointmentId,
        reason: body.reason,
        actor,
        now,
      },
      actor,
      reply: () => ({
        status: 200,
        body: { appointmentId: params.appointmentId, scheduleId: indexed.scheduleId, status: 'cancelled' },
      }),
    };
  },
});

/** The slot a booking took, for its reply (nothing on a capacity-only schedule). */
function slotOf(events: readonly ScheduleStreamEvent[], appointmentId: string) {
  const taken = events.find(
    (e): e is SlotTaken => e.type === 'SlotTaken' && e.data.appointmentId === appointmentId,
  );
  if (!taken) return {};
  const { slot, slotStartsAt, holdExpiresAt } = taken.data;
  return { slot, slotStartsAt, holdExpiresAt };
}

const slotPlanOf = (slots: NonNullable<z.infer<typeof openScheduleRoute.body>['slots']>): SlotPlanInput => ({
  firstSlotTime: slots.firstSlotTime,
  intervalMinutes: slots.intervalMinutes,
  count: slots.count,
  reservations: (slots.reservations ?? []).map((r) => ({ ...r, releasesAt: new Date(r.releasesAt) })),
});
