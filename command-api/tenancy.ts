/**
 * Tenancy: a hospital principal acts only for the institution its token names
 * (`principal.institutionId`); admins act for every institution; patients are bounded elsewhere
 * (they book for themselves, cancel their own: routes.ts and the decider).
 */
import type { ScheduleState } from '../domain/schedule.ts';
import type { Principal } from '../platform/http/auth.ts';
import { AppError } from '../platform/http/errors.ts';
import { problem, type ProblemOutcome } from './problems.ts';

/** Catalog ids are decimal: '007' and '7' name the same row. */
const canonical = (id: string): string => (/^\d+$/.test(id) ? id.replace(/^0+(?=\d)/, '') : id);

const actsFor = (principal: Principal, institutionId: string): boolean =>
  principal.role !== 'hospital' ||
  (principal.institutionId !== undefined && canonical(principal.institutionId) === canonical(institutionId));

/** Request-level: a hospital opens schedules for its own institution only. */
export function requireOwnInstitution(principal: Principal, institutionId: string): void {
  if (actsFor(principal, institutionId)) return;
  throw new AppError(
    'forbidden',
    `This token acts for institution ${principal.institutionId ?? '(none)'}; it may not act for institution ${institutionId}`,
  );
}

/**
 * State-level (the command path runs it on the loaded schedule, command-path.ts): a hospital
 * changes, closes, books on and cancels on its own institution's schedules only. An unknown
 * schedule passes, for the decider to answer 404 as it does for everyone.
 */
export function ownSchedulesOnly(
  principal: Principal,
): ((state: ScheduleState) => ProblemOutcome | undefined) | undefined {
  if (principal.role !== 'hospital') return undefined;
  return (state) =>
    state.status === 'initial' || actsFor(principal, state.institutionId)
      ? undefined
      : problem(
          'forbidden',
          `Schedule ${state.scheduleId} belongs to another institution than this token's (${principal.institutionId ?? '(none)'})`,
        );
}

/**
 * Request-level: reserved channels (on-site, follow-up, …) are the hospital's to use; a patient
 * books and waits online only.
 */
export function patientChannelOnly(principal: Principal, channel: string | undefined): void {
  if (principal.role !== 'patient' || channel === undefined || channel === 'online') return;
  throw new AppError('forbidden', `Patients book online only; channel ${channel} is the hospital's`);
}
