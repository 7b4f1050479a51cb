import { type RequestHandler, Router } from 'express';
import { decide, type ScheduleCommand, type ScheduleError, scheduleStreamName } from '../domain/schedule.ts';
import { AppError } from '../platform/http/errors.ts';
import type { AlongsideStatement } from '../platform/http/idempotency.ts';
import { requireRole } from '../platform/http/auth.ts';
import type { Pool } from '../platform/pg.ts';
import {
  CHECKPOINT_HEADER,
  type CommandContext,
  commandRoute,
  type CommandRouteDeps,
  problem,
  type ProblemOutcome,
  type ResponseOutcome,
} from './command-route.ts';
import { type Committed, ConcurrencyExhaustedError, type ScheduleCommands } from './schedule-commands.ts';
import {
  appointmentParams,
  bookAppointmentBody,
  cancelAppointmentBody,
  changeCapacityBody,
  closeScheduleBody,
  openScheduleBody,
  scheduleParams,
} from './schemas.ts';
import { z } from 'zod';

export interface RoutesDeps extends CommandRouteDeps {
  pool: Pool;
  commands: ScheduleCommands;
  ids: () => string;
}

/** Domain rejections → the error catalogue. */
export function problemFor(error: ScheduleError): ProblemOutcome {
  switch (error.code) {
    case 'invalid_command':
      return problem('validation_failed', `Invalid field(s): ${error.field}`, {
        invalidParams: [{ name: error.field, reason: error.reason }],
      });
    case 'schedule_not_found':
      return problem('schedule_not_found');
    case 'schedule_already_exists':
      return problem('schedule_already_exists');
    case 'schedule_closed':
      return problem('schedule_closed');
    case 'session_started':
      return problem('session_started', `The session started at ${error.sessionStartsAt}`);
    case 'schedule_full':
      return problem('schedule_full', `All ${error.capacity} places are taken`);
    case 'already_booked':
      return problem('already_booked', `Active appointment ${error.appointmentId}`);
    case 'appointment_not_found':
      return problem('appointment_not_found');
    case 'appointment_not_active':
      return problem('appointment_not_active');
    case 'not_appointment_holder':
      return problem('forbidden', 'Patients may only cancel their own appointments');
    case 'capacity_below_active':
      return problem('capacity_below_active', `${error.active} appointments are active`);
    case 'appointment_id_taken':
      // Server-generated uuids do not collide; this is a bug, not an outcome to store.
      throw new Error(`appointment id ${error.appointmentId} already used`);
    default:
      throw new Error(`unmapped domain error ${JSON.stringify(error satisfies never)}`);
  }
}

const methodNotAllowed =
  (...allowed: string[]): RequestHandler =>
  (req) => {
    throw new AppError('method_not_allowed', `${req.method} is not supported here`, {
      headers: { Allow: allowed.join(', ') },
    });
  };

/** Wraps command execution: exhausted optimistic-concurrency retries become 409 concurrency_conflict. */
async function run<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ConcurrencyExhaustedError) {
      throw new AppError('concurrency_conflict', 'The schedule kept changing; retry the request', {
        cause: err,
        headers: { 'Retry-After': '1' },
      });
    }
    throw err;
  }
}

/** The success reply of a command, built from what it committed. */
interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
  /** One more write of the command's transaction, sent with the key's completion. */
  alongside?: AlongsideStatement;
}

/**
 * Decides `command` against its stream and appends (with optimistic-concurrency retries), then
 * stores and returns the reply — which always carries the checkpoint of the command's last event —
 * or maps the domain's rejection to a problem.
 */
async function executeCommand(
  commands: ScheduleCommands,
  streamId: string,
  command: ScheduleCommand,
  ctx: Pick<CommandContext<unknown, unknown>, 'metadata' | 'respond'>,
  reply: (committed: Committed) => Reply,
): Promise<ResponseOutcome | ProblemOutcome> {
  const result = await run(() =>
    commands.execute(
      streamId,
      (state) => decide(command, state),
      ctx.metadata,
      (client, committed) => {
        const r = reply(committed);
        return ctx.respond(
          client,
          r.status,
          r.body,
          { ...r.headers, [CHECKPOINT_HEADER]: committed.checkpoint },
          r.alongside,
        );
      },
    ),
  );
  return result.ok ? result.value : problemFor(result.error);
}

export function commandRoutes(deps: RoutesDeps): Router {
  const router = Router();
  const { commands } = deps;

  router
    .route('/schedules')
    .post(
      requireRole('hospital', 'admin'),
      commandRoute(deps, {
        body: openScheduleBody,
        params: z.object({}),
        handle: async (ctx) => {
          const { body, principal, now } = ctx;
          const scheduleId = body.scheduleId ?? deps.ids();
          const command: ScheduleCommand = {
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
          };
          return executeCommand(commands, scheduleStreamName(scheduleId), command, ctx, (committed) => ({
            status: 201,
            body: {
              scheduleId,
              status: 'open',
              capacity: body.capacity,
              sessionStartsAt:
                committed.state.status === 'open' ? committed.state.sessionStartsAt : undefined,
            },
            headers: { Location: `/v1/schedules/${scheduleId}` },
          }));
        },
      }),
    )
    .all(methodNotAllowed('POST'));

  router
    .route('/schedules/:scheduleId/capacity')
    .post(
      requireRole('hospital', 'admin'),
      commandRoute(deps, {
        body: changeCapacityBody,
        params: scheduleParams,
        handle: async (ctx) => {
          const { body, params, principal, now } = ctx;
          const command: ScheduleCommand = {
            type: 'ChangeCapacity',
            capacity: body.capacity,
            actor: { id: principal.sub, role: principal.role },
            now,
          };
          return executeCommand(commands, scheduleStreamName(params.scheduleId), command, ctx, () => ({
            status: 200,
            body: { scheduleId: params.scheduleId, capacity: body.capacity },
          }));
        },
      }),
    )
    .all(methodNotAllowed('POST'));

  router
    .route('/schedules/:scheduleId/close')
    .post(
      requireRole('hospital', 'admin'),
      commandRoute(deps, {
        body: closeScheduleBody,
        params: scheduleParams,
        handle: async (ctx) => {
          const { body, params, principal, now } = ctx;
          const command: ScheduleCommand = {
            type: 'CloseSchedule',
            reason: body.reason,
            actor: { id: principal.sub, role: principal.role },
            now,
          };
          return executeCommand(
            commands,
            scheduleStreamName(params.scheduleId),
            command,
            ctx,
            (committed) => ({
              status: 200,
              body: {
                scheduleId: params.scheduleId,
                status: 'closed',
                cancelledAppointmentIds: committed.events.flatMap((e) =>
                  e.type === 'AppointmentCancelled' ? [e.data.appointmentId] : [],
                ),
              },
            }),
          );
        },
      }),
    )
    .all(methodNotAllowed('POST'));

  router
    .route('/appointments')
    .post(
      requireRole('patient', 'hospital', 'admin'),
      commandRoute(deps, {
        body: bookAppointmentBody,
        params: z.object({}),
        authorize: (principal, body) => {
          if (principal.role === 'patient' && body.patientId !== principal.sub) {
            throw new AppError('forbidden', 'Patients may only book for themselves');
          }
        },
        handle: async (ctx) => {
          const { body, now } = ctx;
          const appointmentId = deps.ids();
          const streamId = scheduleStreamName(body.scheduleId);
          const command: ScheduleCommand = {
            type: 'BookAppointment',
            scheduleId: body.scheduleId,
            appointmentId,
            patientId: body.patientId,
            now,
          };
          return executeCommand(commands, streamId, command, ctx, () => ({
            status: 201,
            body: { appointmentId, scheduleId: body.scheduleId, status: 'active' },
            headers: { Location: `/v1/appointments/${appointmentId}` },
            // The appointment index row goes in the key-completion statement: same
            // transaction as the append, one round trip fewer.
            alongside: {
              name: 'appointment_index_insert',
              text: 'INSERT INTO appointment_index (appointment_id, schedule_id, stream_id) VALUES ($1, $2, $3)',
              values: [appointmentId, body.scheduleId, streamId],
            },
          }));
        },
      }),
    )
    .all(methodNotAllowed('POST'));

  router
    .route('/appointments/:appointmentId/cancel')
    .post(
      requireRole('patient', 'hospital', 'admin'),
      commandRoute(deps, {
        body: cancelAppointmentBody,
        params: appointmentParams,
        handle: async (ctx) => {
          const { body, params, principal, now } = ctx;
          const { rows } = await deps.pool.query<{ schedule_id: string; stream_id: string }>(
            'SELECT schedule_id, stream_id FROM appointment_index WHERE appointment_id = $1',
            [params.appointmentId],
          );
          const indexed = rows[0];
          if (!indexed) return problem('appointment_not_found');
          const command: ScheduleCommand = {
            type: 'CancelAppointment',
            appointmentId: params.appointmentId,
            reason: body.reason,
            actor: { id: principal.sub, role: principal.role },
            now,
          };
          return executeCommand(commands, indexed.stream_id, command, ctx, () => ({
            status: 200,
            body: {
              appointmentId: params.appointmentId,
              scheduleId: indexed.schedule_id,
              status: 'cancelled',
            },
          }));
        },
      }),
    )
    .all(methodNotAllowed('POST'));

  return router;
}
