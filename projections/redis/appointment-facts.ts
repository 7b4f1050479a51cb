import type { ScheduleView } from '../../read-models/bookings.ts';

/**
 * The schedule's facts every appointment hash of it repeats, first in the hash's HSET so that the
 * writer can send them once per script call instead of once per booking (redis-writer.ts, `HSETS`).
 */
export const appointmentFacts = (view: ScheduleView): string[] => [
  'scheduleId',
  view.scheduleId,
  'doctorId',
  view.doctorId,
  'institutionId',
  view.institutionId,
  'departmentId',
  view.departmentId,
  'date',
  view.date,
  'period',
  view.period,
  'sessionStartsAt',
  view.sessionStartsAt,
];

/** Whether `args` starts with `prefix` (and holds more). */
export function startsWith(args: readonly string[], prefix: readonly string[]): boolean {
  if (args.length <= prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (args[i] !== prefix[i]) return false;
  return true;
}
