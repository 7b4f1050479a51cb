/**
 * The command endpoints of numbered schedules (docs/adr/0012): the payment side's confirmation,
 * the waitlist, check-in and no-show. Like routes.ts: for each, the command its request becomes
 * and the success reply; the shared route and the command path do the rest.
 */
import type { z } from 'zod';
import { scheduleStreamName } from '../domain/schedule.ts';
import type { Principal, Role } from '../platform/http/auth.ts';
import { AppError } from '../platform/http/errors.ts';
import type { PatientVault } from '../platform/patient-vault.ts';
import type { PgAppointmentIndex } from './appointment-index.ts';
import type { CommandRouteSpec, PreparedCommand } from './command-route.ts';
import { problem, type ProblemOutcome } from './problems.ts';
import {
  checkInRoute,
  confirmPaymentRoute,
  joinWaitlistRoute,
  leaveWaitlistRoute,
  markNoShowRoute,
} from './route-specs.ts';
import { ownSchedulesOnly, patientChannelOnly } from './tenancy.ts';

type Spec<R> = R extends { body: infer B extends z.ZodType; params: infer P extends z.ZodType }
  ? CommandRouteSpec<B, P>
  : never;
type Index = Pick<PgAppointmentIndex, 'find'>;
type Patients = Pick<PatientVault, 'resolve' | 'refFor'>;

export const confirmPayment = (index: Index): Spec<typeof confirmPaymentRoute> => ({
  route: confirmPaymentRoute,
  prepare: async ({ body, params, principal, now }) => {
    const indexed = await index.find(params.appointmentId);
    if (!indexed) return problem('appointment_not_found');
    return {
      streamId: indexed.streamId,
      authorize: ownSchedulesOnly(principal),
      command: {
        type: 'ConfirmPayment',
        appointmentId: params.appointmentId,
        paymentRef: body.paymentRef,
        amount: body.amount,
        now,
      },
      reply: () => ({
        status: 200,
        body: {
          appointmentId: params.appointmentId,
          scheduleId: indexed.scheduleId,
          status: 'confirmed',
          paymentRef: body.paymentRef,
        },
      }),
    };
  },
});

export const joinWaitlist = (ids: () => string, patients: Patients): Spec<typeof joinWaitlistRoute> => ({
  route: joinWaitlistRoute,
  authorize: (principal, body) => {
    if (principal.role === 'patient' && body.patientId !== principal.sub)
      throw new AppError('forbidden', 'Patients may only join a waitlist for themselves');
    patientChannelOnly(principal, body.channel);
  },
  prepare: async ({ body, params, principal, now }) => {
    const entryId = ids();
    const { patientRef, patient } = await patients.resolve(body.patientId);
    return {
      streamId: scheduleStreamName(params.scheduleId),
      authorize: ownSchedulesOnly(principal),
      command: {
        type: 'JoinWaitlist',
        scheduleId: params.scheduleId,
        entryId,
        patientRef,
        patient,
        channel: body.channel,
        now,
      },
      ...(principal.role === 'patient' ? { actor: { id: patientRef, role: 'patient' as const } } : {}),
      reply: () => ({
        status: 201,
        body: { entryId, scheduleId: params.scheduleId, status: 'waiting' },
        headers: { Location: `/v1/schedules/${params.scheduleId}/waitlist/${entryId}` },
      }),
    };
  },
});

export const leaveWaitlist = (patients: Patients): Spec<typeof leaveWaitlistRoute> => ({
  route: leaveWaitlistRoute,
  prepare: async ({ params, principal, now }) => {
    const actor = await actorFor(principal, patients);
    return {
      streamId: scheduleStreamName(params.scheduleId),
      authorize: ownSchedulesOnly(principal),
      command: { type: 'LeaveWaitlist', entryId: params.entryId, actor, now },
      actor,
      reply: () => ({
        status: 200,
        body: { entryId: params.entryId, scheduleId: params.scheduleId, status: 'left' },
      }),
    };
  },
});

/** Check-in or no-show: the hospital's record of whether the patient came. */
const attendance = async (
  index: Index,
  type: 'CheckIn' | 'MarkNoShow',
  { params, principal, now }: { params: { appointmentId: string }; principal: Principal; now: Date },
): Promise<PreparedCommand | ProblemOutcome> => {
  const indexed = await index.find(params.appointmentId);
  if (!indexed) return problem('appointment_not_found');
  return {
    streamId: indexed.streamId,
    authorize: ownSchedulesOnly(principal),
    command: {
      type,
      appointmentId: params.appointmentId,
      actor: { id: principal.sub, role: principal.role },
      now,
    },
    reply: () => ({
      status: 200,
      body: {
        appointmentId: params.appointmentId,
        scheduleId: indexed.scheduleId,
        status: type === 'CheckIn' ? 'checked_in' : 'no_show',
      },
    }),
  };
};

export const checkIn = (index: Index): Spec<typeof checkInRoute> => ({
  route: checkInRoute,
  prepare: (input) => attendance(index, 'CheckIn', input),
});

export const markNoShow = (index: Index): Spec<typeof markNoShowRoute> => ({
  route: markNoShowRoute,
  prepare: (input) => attendance(index, 'MarkNoShow', input),
});

/**
 * The actor a cancellation records and the decider compares: a patient by their reference. A
 * patient without a key (never booked, or forgotten) holds nothing: a reference no appointment
 * has, so the decider answers not_appointment_holder (a forgotten patient's old appointments are
 * anonymous: only a hospital or an admin can cancel them).
 */
export async function actorFor(
  principal: Principal,
  patients: Patients,
): Promise<{ id: string; role: Role }> {
  if (principal.role !== 'patient') return { id: principal.sub, role: principal.role };
  const ref = await patients.refFor(principal.sub, { create: false });
  return { id: ref ?? 'no-patient-key', role: 'patient' };
}
