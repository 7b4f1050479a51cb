/**
 * The command endpoints: for each, who may call it, its body and path parameters, the command it
 * becomes and the success reply. Everything else is the shared route (command-route.ts) and the
 * command path (command-path.ts).
 */
import { type RequestHandler, Router } from 'express';
import { z } from 'zod';
import { scheduleStreamName } from '../domain/schedule.ts';
import { type Role, requireRole } from '../platform/http/auth.ts';
import { AppError } from '../platform/http/errors.ts';
import type { PgAppointmentIndex } from './appointment-index.ts';
import { commandRoute, type CommandRouteDeps, type CommandRouteSpec } from './command-route.ts';
import { problem } from './problems.ts';
import {
  appointmentParams,
  bookAppointmentBody,
  cancelAppointmentBody,
  changeCapacityBody,
  closeScheduleBody,
  openScheduleBody,
  scheduleParams,
} from './schemas.ts';

export interface RoutesDeps extends CommandRouteDeps {
  appointments: Pick<PgAppointmentIndex, 'find'>;
  ids: () => string;
}

const noParams = z.object({});

const methodNotAllowed =
  (...allowed: string[]): RequestHandler =>
  (req) => {
    throw new AppError('method_not_allowed', `${req.method} is not supported here`, {
      headers: { Allow: allowed.join(', ') },
    });
  };

export function commandRoutes(deps: RoutesDeps): Router {
  const router = Router();
  const post = <BS extends z.ZodType, PS extends z.ZodType>(
    path: string,
    roles: Role[],
    spec: CommandRouteSpec<BS, PS>,
  ) => {
    router
      .route(path)
      .post(requireRole(...roles), commandRoute(deps, spec))
      .all(methodNotAllowed('POST'));
  };
  post('/schedules', ['hospital', 'admin'], openSchedule(deps.ids));
  post('/schedules/:scheduleId/capacity', ['hospital', 'admin'], changeCapacity);
  post('/schedules/:scheduleId/close', ['hospital', 'admin'], closeSchedule);
  post('/appointments', ['patient', 'hospital', 'admin'], bookAppointment(deps.ids));
  post(
    '/appointments/:appointmentId/cancel',
    ['patient', 'hospital', 'admin'],
    cancelAppointment(deps.appointments),
  );
  return router;
}

const openSchedule = (ids: () => string): CommandRouteSpec<typeof openScheduleBody, typeof noParams> => ({
  body: openScheduleBody,
  params: noParams,
  prepare: ({ body, principal, now }) => {
    const scheduleId = body.scheduleId ?? ids();
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

const changeCapacity: CommandRouteSpec<typeof changeCapacityBody, typeof scheduleParams> = {
  body: changeCapacityBody,
  params: scheduleParams,
  prepare: ({ body, params, principal, now }) => ({
    streamId: scheduleStreamName(params.scheduleId),
    command: {
      type: 'ChangeCapacity',
      capacity: body.capacity,
      actor: { id: principal.sub, role: principal.role },
      now,
    },
    reply: () => ({ status: 200, body: { scheduleId: params.scheduleId, capacity: body.capacity } }),
  }),
};

const closeSchedule: CommandRouteSpec<typeof closeScheduleBody, typeof scheduleParams> = {
  body: closeScheduleBody,
  params: scheduleParams,
  prepare: ({ body, params, principal, now }) => ({
    streamId: scheduleStreamName(params.scheduleId),
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
): CommandRouteSpec<typeof bookAppointmentBody, typeof noParams> => ({
  body: bookAppointmentBody,
  params: noParams,
  authorize: (principal, body) => {
    if (principal.role === 'patient' && body.patientId !== principal.sub) {
      throw new AppError('forbidden', 'Patients may only book for themselves');
    }
  },
  prepare: ({ body, now }) => {
    const appointmentId = ids();
    return {
      streamId: scheduleStreamName(body.scheduleId),
      command: {
        type: 'BookAppointment',
        scheduleId: body.scheduleId,
        appointmentId,
        patientId: body.patientId,
        now,
      },
      reply: () => ({
        status: 201,
        body: { appointmentId, scheduleId: body.scheduleId, status: 'active' },
        headers: { Location: `/v1/appointments/${appointmentId}` },
      }),
    };
  },
});

const cancelAppointment = (
  index: Pick<PgAppointmentIndex, 'find'>,
): CommandRouteSpec<typeof cancelAppointmentBody, typeof appointmentParams> => ({
  body: cancelAppointmentBody,
  params: appointmentParams,
  prepare: async ({ body, params, principal, now }) => {
    const indexed = await index.find(params.appointmentId);
    if (!indexed) return problem('appointment_not_found');
    return {
      streamId: indexed.streamId,
      command: {
        type: 'CancelAppointment',
        appointmentId: params.appointmentId,
        reason: body.reason,
        actor: { id: principal.sub, role: principal.role },
        now,
      },
      reply: () => ({
        status: 200,
        body: { appointmentId: params.appointmentId, scheduleId: indexed.scheduleId, status: 'cancelled' },
      }),
    };
  },
});
